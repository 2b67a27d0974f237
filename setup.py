# Only what pyproject.toml cannot say: the package carries the C programs,
# built by the Makefile (one build, the same as `make`), so the wheel is
# platform-specific.
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
BUILT = ("libmemprof.so", "memprof", "memprof-report")


class build_with_make(build_py):
    def run(self):
        super().run()
        subprocess.check_call(["make", "-C", HERE, "-j2", "all"])
        lib = os.path.join(self.build_lib, "memprof", "_lib")
        os.makedirs(lib, exist_ok=True)
        for name in BUILT:
            shutil.copy2(os.path.join(HERE, "build", name), os.path.join(lib, name))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": build_with_make}, distclass=BinaryDistribution)
