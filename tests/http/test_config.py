"""`readgate check` on the configuration the suite runs with, and on a copy
with a mistake in a site file."""

import os
import re
import shutil
import subprocess
import unittest

import harness
from harness import SITE


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()

    def check(self, path):
        p = subprocess.run([self.env.readgate, "check", "-c", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=self.env.proc_env, timeout=60)
        return p.returncode, p.stdout.decode(errors="replace")

    def test_suite_config_is_ok(self):
        rc, out = self.check(self.env.main.config_path)
        self.assertEqual(rc, 0, out)
        self.assertIn("configuration ok", out)

    def test_unknown_key_is_reported_with_file_and_line(self):
        d = os.path.join(self.env.tmp, "check-bad")
        shutil.copytree(self.env.main.dir, d, ignore=shutil.ignore_patterns("*.log", "*.db*"))
        conf = os.path.join(d, "readgate.yaml")
        with open(conf) as f:
            text = f.read()
        text = re.sub(r'(?m)^sites_dir: .*$', 'sites_dir: "%s"' % os.path.join(d, "sites"), text)
        with open(conf, "w") as f:
            f.write(text)
        site = os.path.join(d, "sites", SITE + ".yaml")
        with open(site) as f:
            lines = f.read().splitlines()
        lines.insert(2, "colour_scheme: \"dark\"")  # line 3: not a site key
        with open(site, "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out = self.check(conf)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, re.escape(site) + r":3: .*colour_scheme")
        self.assertNotIn("configuration ok", out)


if __name__ == "__main__":
    unittest.main()
