"""The test client's signing against vectors computed independently with
`openssl dgst -sha256 -hmac` (no server needed)."""

import unittest

import rgclient


class SigningVectors(unittest.TestCase):
    SECRET = "k3Y-secret/+="  # used as the bytes of the string, not decoded

    def test_post_with_body(self):
        body = b'{"collection":"products","limit":2}'
        self.assertEqual(
            rgclient.string_to_sign("1763801400", "abcdefghijklmnop_-12", "POST",
                                    "/v1/demo0001/query", body),
            "v1\n1763801400\nabcdefghijklmnop_-12\nPOST\n/v1/demo0001/query\n"
            "74c81c5fa0b06d358f375320cd519c11b97ef7ff928ea62497f5ac77b8209547")
        self.assertEqual(
            rgclient.sign(self.SECRET, "1763801400", "abcdefghijklmnop_-12", "POST",
                          "/v1/demo0001/query", body),
            "sha256=16f8ab07d9716f6660a860c29f5c7c868a10bfb3127b4a788ab66b3bd6eac723")

    def test_get_with_empty_body(self):
        self.assertEqual(
            rgclient.sign(self.SECRET, "1763801400", "NONCE_nonce-123456", "GET",
                          "/v1/demo0001/collections", b""),
            "sha256=53f42e64fc1aadc761647af0d157ce5e8f5f074bf149553683b132483e500871")

    def test_nonce_shape(self):
        import re
        for _ in range(50):
            self.assertRegex(rgclient.new_nonce(), re.compile(r"^[A-Za-z0-9_-]{16,64}$"))


if __name__ == "__main__":
    unittest.main()
