"""An SFTP subsystem for ztp's fault tests: OpenSSH's sftp-server behind a proxy that holds the
first rename it sees, so that a test can kill the NMS between an upload's write and its rename.

usage: sftp_hold.py MARKER SFTP_SERVER [ARG...]
Runs SFTP_SERVER and relays the SFTP packets between it and sshd. The first time a client asks
for a rename (SSH_FXP_RENAME, or the posix-rename@openssh.com extension) and MARKER does not
exist yet, the proxy writes MARKER (the request's name) and then relays nothing more, ever: the
request is never carried out and never answered. With MARKER present it only relays.
"""

import os
import struct
import subprocess
import sys
import threading
import time

MARKER = sys.argv[1]
SSH_FXP_RENAME = 18
SSH_FXP_EXTENDED = 200


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def rename_request(packet):
    """The request's name if `packet` (type byte onwards) asks for a rename, else None."""
    kind = packet[0]
    if kind == SSH_FXP_RENAME:
        return "rename"
    if kind == SSH_FXP_EXTENDED and len(packet) >= 9:
        (length,) = struct.unpack(">I", packet[5:9])
        name = packet[9 : 9 + length].decode("utf-8", "replace")
        if "rename" in name:
            return name
    return None


def relay_replies(source, sink):
    while True:
        chunk = source.read1(65536)
        if not chunk:
            break
        sink.write(chunk)
        sink.flush()


def hold_forever():
    while True:
        time.sleep(3600)


server = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
threading.Thread(
    target=relay_replies, args=(server.stdout, sys.stdout.buffer), daemon=True
).start()
incoming = sys.stdin.buffer
while True:
    header = read_exactly(incoming, 4)
    if header is None:
        break
    (length,) = struct.unpack(">I", header)
    packet = read_exactly(incoming, length)
    if packet is None:
        break
    name = rename_request(packet)
    if name is not None and not os.path.exists(MARKER):
        with open(MARKER + ".tmp", "w") as f:
            f.write(name)
        os.replace(MARKER + ".tmp", MARKER)
        hold_forever()
    server.stdin.write(header + packet)
    server.stdin.flush()
server.stdin.close()
server.wait()
