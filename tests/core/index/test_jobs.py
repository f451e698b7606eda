"""Background builds: their status follows the build's progress and ends done or failed, never lost."""

from __future__ import annotations

import threading

from core.errors import SiglipProjectsError
from core.index import FolderSource, build_index
from core.index.service.jobs import Jobs, JobState
from tests.core.index.conftest import write_images
from tests.reliability.fake_encoder import FakeEncoder


def test_a_job_reports_progress_then_done(settings, tmp_path):
    images = tmp_path / "images"
    write_images(images, range(6))
    jobs = Jobs()
    seen: list[tuple[int, int]] = []
    fake = FakeEncoder(settings)

    def work(progress):
        def spy(done: int, total: int) -> None:
            seen.append((done, total))
            progress(done, total)

        return build_index("photos", FolderSource(images), settings=settings, progress=spy, encoder=fake)

    jobs.start("photos", work, total=6).join(30)
    status = jobs.status("photos")
    assert (status.state, status.done, status.total) == (JobState.DONE, 6, 6) and seen[-1] == (6, 6)


def test_one_job_per_name_and_failures_keep_their_message():
    jobs = Jobs()
    release = threading.Event()

    def stuck(progress):
        progress(1, 4)
        release.wait(30)
        raise SiglipProjectsError("the dataset could not be loaded")

    first = jobs.start("wikiart", stuck, total=4)
    assert jobs.start("wikiart", stuck) is first and jobs.running("wikiart")
    jobs.forget("wikiart")  # a running job keeps its status
    assert jobs.status("wikiart").state == JobState.RUNNING
    release.set()
    first.join(30)
    status = jobs.status("wikiart")
    assert status.state == JobState.FAILED and status.message == "the dataset could not be loaded"

    def bug(progress):
        raise ZeroDivisionError("division by zero")

    jobs.start("other", bug).join(30)
    assert jobs.status("other").message == "ZeroDivisionError: division by zero"
    jobs.forget("other")
    assert jobs.status("other").state == JobState.IDLE
