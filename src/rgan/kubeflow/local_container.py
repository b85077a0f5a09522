"""One pipeline step in a container for kfp.local's DockerRunner, run so that its exit status is never lost.

kfp 2.17 starts each step's container with `auto_remove=True`, then streams its log and waits on it. A quick
step's container can be gone by then: podman's Docker-compatible API answers HTTP 500 "no such container", which
kfp does not catch (it catches docker's 404), so the run fails although the step ran; and when the container is
gone only before `wait`, kfp counts the step as a success whatever its exit code. Here the container is removed
only after its exit code is read.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

LOG_DRAIN_S = 5.0  # after the step exits, how long its followed log may take to end on its own


def run_step_container(client, image: str, command: list[str], volumes: dict[str, Any], **run_args) -> int:
    """kfp.local.docker_task_handler.run_docker_container's contract: stream the step's log to stdout and return
    its exit code. The image must be in the engine already (checked before the run, with a one-line error).

    The log is relayed by a thread while this one waits for the exit: podman can leave a quick container's followed
    log open after the container has exited (a read that never returns, seen in the tests), so once the step has
    exited the stream gets LOG_DRAIN_S to end, is then closed, and whatever it had not relayed is read in one piece."""
    from kfp.local.docker_task_handler import add_latest_tag_if_not_present

    run_args.pop("auto_remove", None)
    container = client.containers.create(image=add_latest_tag_if_not_present(image), command=command, volumes=volumes, **run_args)
    try:
        container.start()
        stream = container.logs(stream=True, follow=True)
        relayed = bytearray()

        def relay() -> None:
            try:
                for chunk in stream:
                    relayed.extend(chunk)
                    print(chunk.decode(errors="replace"), end="", flush=True)
            except Exception:  # the stream closed under the read (below): the rest is read in one piece
                pass

        relaying = threading.Thread(target=relay, daemon=True)
        relaying.start()
        code = int(container.wait()["StatusCode"])
        relaying.join(LOG_DRAIN_S)
        if relaying.is_alive():
            stream.close()
            relaying.join(LOG_DRAIN_S)
            print(container.logs()[len(relayed):].decode(errors="replace"), end="", flush=True)
        return code
    finally:
        container.remove(force=True)


@contextmanager
def steps_keep_their_exit_status() -> Iterator[None]:
    """While inside: kfp.local's DockerRunner runs its steps with run_step_container."""
    from kfp.local import docker_task_handler

    original = docker_task_handler.run_docker_container
    docker_task_handler.run_docker_container = run_step_container
    try:
        yield
    finally:
        docker_task_handler.run_docker_container = original
