"""The tier's fixture fails, never skips, when kube-apiserver cannot start, and names why (the log's tail)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.kube.controlplane import ControlPlane, StartError


def test_an_api_server_that_cannot_start_fails_with_its_log_tail_and_leaves_nothing_running(tmp_path):
    if shutil.which("etcd") is None:
        pytest.fail("no etcd on PATH: install Debian's etcd-server (scripts/test.sh does)")
    fake = tmp_path / "bin"
    fake.mkdir()
    apiserver = fake / "kube-apiserver"
    apiserver.write_text("#!/bin/sh\necho 'E1203 open /no/such/etcd-ca: no such file or directory' >&2\nexit 1\n")
    apiserver.chmod(0o755)
    plane = ControlPlane(workdir=tmp_path / "work", bin_dir=fake)
    (tmp_path / "work").mkdir()
    try:
        with pytest.raises(StartError, match=r"kube-apiserver exited with 1 while starting") as caught:
            plane.start()
        assert "open /no/such/etcd-ca: no such file or directory" in str(caught.value)
        started = plane.running()
        assert len(started) == 1  # etcd had started ...
    finally:
        plane.stop()
    assert plane.running() == []  # ... and stop() ended it
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)
