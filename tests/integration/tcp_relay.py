"""A TCP relay on loopback between fisbot and its test Prosody, owned by a
test: fisbot's [xmpp] server points at the relay, which forwards bytes
both ways. The test can then break the connections it carries the ways a
network does:

    cut()         both sides closed at once (a NAT timeout, a Wi-Fi
                  change, a load balancer dropping the connection)
    black_hole()  bytes no longer forwarded and nothing closed: a dead
                  path TCP does not notice (what arrives is read and
                  thrown away; when fisbot gives up on it, the server is
                  not told)
    refuse()      new connections refused (the path still down), until
    listen()      accepts them again on the same port

New connections are forwarded normally after cut() and black_hole().

    relay = Relay(server.port)
    ... relay.port ...
    relay.close()
"""
import select
import socket
import threading
import time


class Relay:
    """Forwards 127.0.0.1:self.port to 127.0.0.1:target_port."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = 0
        self.listener = None
        self.listen()
        self.lock = threading.Lock()
        self.peer = {}      # socket -> the socket on the other side
        self.holes = set()  # sockets whose traffic is thrown away
        self.accepted = 0   # connections accepted so far
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def listen(self):
        """Accepts connections (again) on self.port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener

    def refuse(self):
        """Refuses new connections until listen()."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()

    def _accept(self, listener):
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self.lock:
            self.peer[client] = upstream
            self.peer[upstream] = client
            self.accepted += 1

    def _drop(self, sock):
        """Closes sock and (unless it is a black hole) its peer."""
        with self.lock:
            other = self.peer.pop(sock, None)
            hole = sock in self.holes
            self.holes.discard(sock)
            if other is not None and not hole:
                self.peer.pop(other, None)
                self.holes.discard(other)
            elif other is not None:
                # The other side never learns: it stays open, unread.
                self.peer[other] = None
        sock.close()
        if other is not None and not hole:
            other.close()

    def _run(self):
        while not self.stopping:
            with self.lock:
                socks = [s for s in self.peer if s.fileno() >= 0]
            listener = self.listener
            if listener is not None:
                socks.append(listener)
            try:
                ready, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                time.sleep(0.05)
                continue
            for s in ready:
                if s is listener:
                    self._accept(listener)
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._drop(s)
                    continue
                with self.lock:
                    other = self.peer.get(s)
                    hole = s in self.holes
                if other is None or hole:
                    continue
                try:
                    other.sendall(data)
                except OSError:
                    self._drop(s)

    def cut(self) -> int:
        """Closes every connection carried now, both sides; returns how
        many there were."""
        with self.lock:
            socks = list(self.peer)
            self.peer.clear()
            self.holes.clear()
        for s in socks:
            s.close()
        return len(socks) // 2

    def black_hole(self) -> int:
        """Stops forwarding on every connection carried now, closing
        nothing; returns how many there were."""
        with self.lock:
            self.holes.update(self.peer)
            return len(self.peer) // 2

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.cut()
        self.refuse()
