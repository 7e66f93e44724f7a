"""
Headless Chromium for the browser tests, driven over the Chrome DevTools
Protocol with a small WebSocket client written on the standard library.

`Browser` opens a page at a given width, light or dark, screen or print, and
evaluates JavaScript in it; every request the page makes is kept in `events`.
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
from typing import Optional

import pytest

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')


def require_chromium():
    """
    Skip the test without Chromium, or fail it where CI says it must run.
    """
    if CHROMIUM is None:
        if os.environ.get('LABML_NN_REQUIRE_BROWSER') == '1':
            pytest.fail('chromium is not installed, and LABML_NN_REQUIRE_BROWSER=1')
        pytest.skip('chromium is not installed')


class DevTools:
    """
    Just enough of a WebSocket client (RFC 6455) to send DevTools commands and
    collect the events that arrive in between.
    """

    def __init__(self, url: str):
        host, _, path = url[len('ws://'):].partition('/')
        name, port = host.split(':')
        self.socket = socket.create_connection((name, int(port)), timeout=60)
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
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack('>H', len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack('>Q', len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.socket.sendall(header + mask + masked)
        while True:
            message = self._receive()
            if message.get('id') == self.next_id:
                assert 'error' not in message, message
                return message.get('result', {})
            self.events.append(message)

    def forget(self, method: str):
        """
        Marks the events of this kind received so far as waited for.
        """
        for event in self.events:
            if event.get('method') == method:
                event['seen'] = True

    def wait_for(self, method: str, timeout: float = 30):
        """
        Waits for an event that has not been waited for yet, and consumes it.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get('method') == method and not event.get('seen'):
                    event['seen'] = True
                    return event
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
         '--disable-default-apps', '--disable-extensions', '--hide-scrollbars',
         f'--user-data-dir={profile}', '--remote-debugging-port=0', 'about:blank'],
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


class Browser:
    """
    One Chromium for a test module: `open` a page as a given screen, then
    `evaluate` JavaScript in it. Use it as a context manager.
    """

    def __init__(self, profile: Path):
        self.process, self.tools = start_chromium(profile)
        self.tools.call('Network.enable')
        self.tools.call('Page.enable')

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        stop_chromium(self.process)

    def screen(self, width: int, height: int = 900, dark: bool = False, touch: bool = False,
               media: str = ''):
        """
        The window's size, colour scheme, pointer and media type (`print`).
        """
        self.tools.call('Emulation.setDeviceMetricsOverride', width=width, height=height,
                        deviceScaleFactor=1, mobile=touch)
        self.tools.call('Emulation.setTouchEmulationEnabled', enabled=touch)
        self.tools.call('Emulation.setEmulatedMedia', media=media, features=[
            {'name': 'prefers-color-scheme', 'value': 'dark' if dark else 'light'},
            {'name': 'pointer', 'value': 'coarse' if touch else 'fine'}])

    def open(self, url: str, width: Optional[int] = None, **screen):
        """
        Loads `url` (after setting the screen, when `width` is given) and waits
        for it, fonts included.
        """
        if width is not None:
            self.screen(width, **screen)
        # A link within the page loads nothing: start from a blank page
        for address in (['about:blank'] if '#' in url else []) + [url]:
            self.tools.forget('Page.loadEventFired')
            self.tools.call('Page.navigate', url=address)
            self.tools.wait_for('Page.loadEventFired')
        self.evaluate('document.fonts.ready.then(() => true)')

    def evaluate(self, expression: str):
        result = self.tools.call('Runtime.evaluate', expression=expression, returnByValue=True,
                                 awaitPromise=True, userGesture=True)
        assert 'exceptionDetails' not in result, result['exceptionDetails']
        return result['result'].get('value')

    def screenshot(self, path: Path, full: bool = True):
        shot = self.tools.call('Page.captureScreenshot', format='png', captureBeyondViewport=full)
        path.write_bytes(base64.b64decode(shot['data']))

    def pdf(self, **options) -> bytes:
        return base64.b64decode(self.tools.call('Page.printToPDF', **options)['data'])

    def requests(self) -> list:
        return [e['params']['request']['url'] for e in self.tools.events
                if e.get('method') == 'Network.requestWillBeSent']
