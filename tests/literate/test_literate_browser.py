"""
A rendered page in a real browser: headless Chromium, driven over the Chrome
DevTools Protocol with a small WebSocket client written on the standard library.

It checks what only a browser can tell: that the MathML has a size, that the
columns sit side by side on a wide screen and stack on a phone, and that the
page asks the network for nothing.
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from labml_nn.literate.site import Site, write
from labml_nn.literate.translate import ENGLISH

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')

SOURCE = '''"""
---
title: A page for the browser
summary: Math, code and a link.
---

# A page for the browser

The loss is $\\mathcal{L} = \\frac{T^2}{n} \\sum_i \\mathrm{KL}(p_i \\| q_i)$ and

$$q_c = \\frac{\\exp(z_c / T)}{\\sum_j \\exp(z_j / T)}$$

See [the other page](other.html).
"""

import math


# A function with *notes* beside it, $x^2$ inline
def square(x: float) -> float:
    return x * x
'''


class DevTools:
    """
    Just enough of a WebSocket client (RFC 6455) to send DevTools commands and
    collect the events that arrive in between.
    """

    def __init__(self, url: str):
        host, _, path = url[len('ws://'):].partition('/')
        name, port = host.split(':')
        self.socket = socket.create_connection((name, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.socket.sendall((f'GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n'
                             f'Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
                             f'Sec-WebSocket-Version: 13\r\n\r\n').encode())
        response = b''
        while b'\r\n\r\n' not in response:
            response += self.socket.recv(1)
        assert b' 101 ' in response.split(b'\r\n')[0], response
        self.next_id = 0
        self.events = []

    def _read(self, n: int) -> bytes:
        data = b''
        while len(data) < n:
            chunk = self.socket.recv(n - len(data))
            if not chunk:
                raise ConnectionError('DevTools closed the connection')
            data += chunk
        return data

    def _receive(self) -> dict:
        message = b''
        while True:
            first, second = self._read(2)
            length = second & 0x7f
            if length == 126:
                length = struct.unpack('>H', self._read(2))[0]
            elif length == 127:
                length = struct.unpack('>Q', self._read(8))[0]
            message += self._read(length)
            if first & 0x80:
                return json.loads(message)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        payload = json.dumps({'id': self.next_id, 'method': method, 'params': params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack('>H', len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.socket.sendall(header + mask + masked)
        while True:
            message = self._receive()
            if message.get('id') == self.next_id:
                assert 'error' not in message, message
                return message.get('result', {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(event.get('method') == method for event in self.events):
                return
            self.events.append(self._receive())
        raise TimeoutError(method)


def start_chromium(profile: Path):
    """
    Chromium with a fresh profile and everything that phones home turned off;
    returns the process and a DevTools connection to its page.
    """
    process = subprocess.Popen(
        [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-default-apps', '--disable-extensions', f'--user-data-dir={profile}',
         '--remote-debugging-port=0', 'about:blank'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = profile / 'DevToolsActivePort'
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            stop_chromium(process)
            raise RuntimeError('Chromium did not start')
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=30) as response:
        targets = json.load(response)
    page = next(t for t in targets if t['type'] == 'page')
    return process, DevTools(page['webSocketDebuggerUrl'])


def stop_chromium(process: subprocess.Popen):
    # Chromium's helpers share its session, so the group goes with it
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


# Where the notes and code of the first section with both are, and every formula
MEASURE = '''(() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                             width: r.width, height: r.height}; };
  const section = [...document.querySelectorAll('.section')]
    .find(s => s.querySelector('.notes p') && s.querySelector('.code .line'));
  return {notes: box(section.querySelector('.notes')), code: box(section.querySelector('.code')),
          math: [...document.querySelectorAll('math')].map(box),
          resources: performance.getEntriesByType('resource').map(r => r.name)};
})()'''


@pytest.fixture(scope='module')
def page_url(tmp_path_factory) -> str:
    source = tmp_path_factory.mktemp('source')
    (source / 'page.py').write_text(SOURCE, encoding='utf-8')
    (source / 'other.py').write_text('"""\n# Other\n"""\nx = 1\n', encoding='utf-8')
    out = tmp_path_factory.mktemp('site')
    write(out, Site(source, [ENGLISH]).build(), lambda path: True)
    return (out / 'page.html').as_uri()


def test_page_in_chromium(page_url, tmp_path):
    if CHROMIUM is None:
        if os.environ.get('LABML_NN_REQUIRE_BROWSER') == '1':
            pytest.fail('chromium is not installed, and LABML_NN_REQUIRE_BROWSER=1')
        pytest.skip('chromium is not installed')
    process, tools = start_chromium(tmp_path / 'profile')
    try:
        tools.call('Network.enable')
        tools.call('Page.enable')
        measured = {}
        for width in (1280, 400):
            tools.call('Emulation.setDeviceMetricsOverride', width=width, height=900,
                       deviceScaleFactor=1, mobile=False)
            if width == 1280:
                tools.call('Page.navigate', url=page_url)
                tools.wait_for('Page.loadEventFired')
            result = tools.call('Runtime.evaluate', expression=MEASURE, returnByValue=True)
            measured[width] = result['result']['value']
        # Clicking a name highlights it wherever it is used: `x` is used three times
        clicked = tools.call('Runtime.evaluate', returnByValue=True, expression=(
            "[...document.querySelectorAll('.code .n')].find(e => e.textContent === 'x').click();"
            "[...document.querySelectorAll('.hl')].map(e => e.textContent)"))['result']['value']
        requests = [e['params']['request']['url'] for e in tools.events
                    if e.get('method') == 'Network.requestWillBeSent']
    finally:
        stop_chromium(process)

    assert clicked == ['x', 'x', 'x']
    wide, narrow = measured[1280], measured[400]
    # Every formula is typeset, with a size
    assert len(wide['math']) == 3
    assert all(box['width'] > 0 and box['height'] > 0 for box in wide['math'])
    # Wide: notes and code side by side, on the same row
    assert wide['code']['left'] >= wide['notes']['right'] - 1
    assert abs(wide['code']['top'] - wide['notes']['top']) < 1
    # Narrow: code below notes, both the width of the screen
    assert narrow['code']['top'] >= narrow['notes']['bottom'] - 1
    assert narrow['code']['width'] > 350 and narrow['notes']['width'] > 350
    # The page, its style sheet and its script, all from disk, and nothing else
    assert requests and all(url.startswith('file://') for url in requests), requests
    assert {url.rsplit('/', 1)[-1] for url in requests} == {'page.html', 'literate.css', 'literate.js'}
    assert all(url.startswith('file://') for url in wide['resources'])
