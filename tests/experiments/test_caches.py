"""
Tests of what the two experiments' caches share: the hash of named tensors
(every byte, the type, the shape, the name and the order count; its bytes do
not change, or the caches on disk would be lost), and the lock that makes a
second process wait for the one building a cache.
"""

import subprocess
import sys
import threading

import torch

from labml_nn.experiments.caches import building_lock, tensors_hash


def test_the_hash_of_tensors_is_every_byte_type_shape_name_and_order():
    weight = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    first = tensors_hash([('weight', weight), ('bias', None)], 'version 1')
    changed = weight.clone()
    changed.view(torch.uint8)[0, 5] ^= 1
    others = [tensors_hash([('weight', changed), ('bias', None)], 'version 1'),
              tensors_hash([('weight', weight.double()), ('bias', None)], 'version 1'),
              tensors_hash([('weight', weight.reshape(3, 2)), ('bias', None)], 'version 1'),
              tensors_hash([('weights', weight), ('bias', None)], 'version 1'),
              tensors_hash([('bias', None), ('weight', weight)], 'version 1'),
              tensors_hash([('weight', weight)], 'version 1'),
              tensors_hash([('weight', weight), ('bias', None)], 'version 2')]
    assert len({first, *others}) == 1 + len(others)
    # The same bytes, however they lie in memory, and whatever the device
    assert tensors_hash([('weight', weight.t().contiguous().t()), ('bias', None)], 'version 1') == first


def test_the_hash_of_tensors_keeps_its_bytes():
    """
    The hash of fixed tensors, as the caches on disk were named and checked
    with (the value the code that wrote them gives): a change to what is
    hashed fails here.
    """
    tensors = [('bias', torch.tensor([1.5, -2.0], dtype=torch.bfloat16)), ('none', None),
               ('weight', torch.arange(6, dtype=torch.float32).reshape(2, 3))]
    assert tensors_hash(tensors, 'a text') == '7a3b177df642e1d62d1dc9b27b11d0d80c00b407a846bf314b6a4509e97b6382'


def test_a_second_process_waits_for_the_one_building(tmp_path, capsys):
    """
    While another process holds the lock, the block does not start; it
    starts once the lock is let go, and says why it waited.
    """
    lock = tmp_path / 'caches' / 'a.lock'
    lock.parent.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', (
        'import fcntl, sys\n'
        f'file = open({str(lock)!r}, "a")\n'
        'fcntl.flock(file, fcntl.LOCK_EX)\n'
        'print("held", flush=True)\n'
        'sys.stdin.readline()\n')], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == 'held\n'
        entered = threading.Event()

        def build():
            with building_lock(lock, 'the cache of a test'):
                entered.set()

        waiting = threading.Thread(target=build)
        waiting.start()
        assert not entered.wait(timeout=1)
        holder.communicate('\n', timeout=60)
        assert entered.wait(timeout=60)
        waiting.join()
    finally:
        holder.kill()
    assert 'Another process is looking for or building the cache of a test; waiting for it' in capsys.readouterr().out
