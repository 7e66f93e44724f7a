"""
Launch settings for the tests that start torchrun: rendezvous ports that no
other program can take in the meantime.
"""

import random
import socket
from pathlib import Path
from typing import List


def free_port() -> int:
    """
    A port no one listens on now, below the system's range of ephemeral ports.
    A port from that range (what binding port 0 gives) can be taken, between
    this check and torchrun's listening on it, by any outgoing connection,
    and the launches side by side make many; a port below it is never handed
    out by the system, and this module hands each out once.
    """
    ephemeral = Path('/proc/sys/net/ipv4/ip_local_port_range')
    low = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    for port in random.sample(range(max(1024, low - 10000), low), 100):
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError(f'no free port below {low}')


# The ports `free_port` has given out
_GIVEN = set()


def standalone(processes: int) -> List[str]:
    """
    One machine, `processes` processes, the rendezvous on a free port of 127.0.0.1.
    """
    return ['--nnodes', '1', '--nproc-per-node', str(processes), '--rdzv-backend', 'c10d',
            '--rdzv-endpoint', f'127.0.0.1:{free_port()}', '--local-addr', '127.0.0.1']
