"""The API-server tier: one etcd + kube-apiserver for the session (tests/kube/controlplane.py).

Nothing here skips: an etcd or kube-apiserver that cannot start fails every test of the tier with its log tail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube.controlplane import ControlPlane, StartError, kube_bin


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane: ControlPlane | None = None
    try:
        plane = ControlPlane(workdir=tmp_path_factory.mktemp("kube"), bin_dir=kube_bin())
        plane.start()
    except StartError as error:
        if plane is not None:
            plane.stop()
        pytest.fail(f"the API server tier cannot start: {error}", pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()
        assert not plane.running(), f"processes left running: {plane.running()}"
