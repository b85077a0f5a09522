"""The local container runner's log relay when the engine leaves a finished step's followed log open (podman does,
now and then, for a quick step): the exit code still comes back, with the whole log, in bounded time. The real engine
cannot be made to hang on purpose, so the engine here is a stand-in with that one behaviour."""

import threading

from rgan.kubeflow import local_container


class _HangingStream:
    """A followed log that yields its lines and then blocks until closed, as podman's did."""

    def __init__(self, lines):
        self._lines = list(lines)
        self._closed = threading.Event()

    def __iter__(self):
        yield from self._lines
        self._closed.wait()
        raise OSError("stream closed")

    def close(self):
        self._closed.set()


class _Container:
    def __init__(self, log: bytes, relayed_lines: int, code: int):
        self._log, self._code = log, code
        self._stream = _HangingStream(log.splitlines(keepends=True)[:relayed_lines])
        self.removed = False

    def start(self):
        pass

    def logs(self, stream=False, follow=False):
        return self._stream if stream else self._log

    def wait(self):
        return {"StatusCode": self._code}

    def remove(self, force=False):
        self.removed = True


class _Client:
    def __init__(self, container):
        self.containers = self
        self._container = container

    def create(self, **kwargs):
        return self._container


def test_a_followed_log_left_open_after_exit_is_closed_and_the_rest_printed(monkeypatch, capsys):
    monkeypatch.setattr(local_container, "LOG_DRAIN_S", 0.05)
    container = _Container(b"one\ntwo\nthree\n", relayed_lines=1, code=3)
    code = local_container.run_step_container(_Client(container), "img:tag", ["true"], {})
    assert code == 3
    assert capsys.readouterr().out == "one\ntwo\nthree\n"
    assert container.removed


def test_a_log_that_ends_on_its_own_is_relayed_once(capsys):
    container = _Container(b"a\nb\n", relayed_lines=2, code=0)
    container._stream._closed.set()  # the stream ends when its lines are out
    assert local_container.run_step_container(_Client(container), "img:tag", ["true"], {}) == 0
    assert capsys.readouterr().out == "a\nb\n"
