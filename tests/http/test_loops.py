"""Event loops share the connections: a burst of new keep-alive connections
is spread over the loops (each new one goes to the loop with the fewest),
and every connection is served whichever loop holds it."""
import re
import socket
import unittest

import harness
import rlbase


def loop_counts(srv):
    status, body = srv.admin_get("/metrics")
    assert status == 200, status
    return {int(m.group(1)): int(m.group(2)) for m in
            re.finditer(r'^readgate_loop_connections\{loop="(\d+)"\} (\d+)$', body.decode(), re.M)}


class LoopBalanceTest(unittest.TestCase):
    LOOPS = 3

    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.key = harness.new_api_key()
        cls.srv = env.start_server("loops", {"loops001": rlbase.lite_site(env, "loops001", cls.key)},
                                   extra={"loop_threads": cls.LOOPS})

    def burst(self, n):
        # All connects first, then the requests: the gateway sees a burst of
        # accepts, the case where one loop used to take them all.
        socks = [socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                 for _ in range(n)]
        for s in socks:
            s.sendall(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            data = s.recv(4096)
            self.assertTrue(data.startswith(b"HTTP/1.1 404"), data)
        return socks

    def test_burst_is_spread(self):
        socks = self.burst(30)
        try:
            self.assertTrue(rlbase.wait_for(lambda: sum(loop_counts(self.srv).values()) == 30),
                            loop_counts(self.srv))
            counts = loop_counts(self.srv)
            self.assertEqual(sorted(counts), list(range(self.LOOPS)), counts)
            # 10 each, give or take the connection that was accepted while
            # the turn was being passed on.
            for loop, n in counts.items():
                self.assertGreaterEqual(n, 8, counts)
                self.assertLessEqual(n, 12, counts)
            # Half of them close (spread over the loops in some way); the
            # next 15 go where connections are fewest.
            for s in socks[:15]:
                s.close()
            self.assertTrue(rlbase.wait_for(lambda: sum(loop_counts(self.srv).values()) == 15),
                            loop_counts(self.srv))
            more = self.burst(15)
            socks += more
            self.assertTrue(rlbase.wait_for(lambda: sum(loop_counts(self.srv).values()) == 30),
                            loop_counts(self.srv))
            counts = loop_counts(self.srv)
            for loop, n in counts.items():
                self.assertGreaterEqual(n, 7, counts)
                self.assertLessEqual(n, 13, counts)
        finally:
            for s in socks:
                s.close()
        self.assertTrue(rlbase.wait_for(lambda: sum(loop_counts(self.srv).values()) == 0),
                        loop_counts(self.srv))
        # Still accepting after everything closed.
        r = self.srv.client.request("GET", "/nothing-here")
        self.assertEqual(r.status, 404, r)


if __name__ == "__main__":
    unittest.main()
