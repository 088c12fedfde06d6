"""How long a camera frame takes over the DDS backend, publisher and subscriber in two processes on loopback:
serialize (hardware.messages.cdr) + publish + receive + deserialize + convert to (H, W, 3) RGB, per frame.

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python tests/hardware/dds_image_timing.py'

(in a network namespace of its own, as every DDS test here). The sender stamps each frame with time.time() just
before publishing; the receiver, a child process, subtracts that stamp from time.time() once the frame is an RGB
array. Frames go out at 20 Hz, so none waits behind another. For comparison it also times cyclonedds' own Python
serializer on the same Image (what the raw-CDR path skips). Prints one JSON line per size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hardware.camera_frames import frame_to_rgb  # noqa: E402
from hardware.dds.network import loopback_config  # noqa: E402
from hardware.dds.participant import RELIABLE, DdsParticipant  # noqa: E402
from hardware.messages import Image, numpy_to_image  # noqa: E402
from tests.hardware.topic_backend_checks import wait_for  # noqa: E402

SIZES = ((96, 96), (480, 640))  # (H, W)
FRAMES = 40


def receive(height: int, width: int) -> None:
    """Child: take FRAMES frames of (height, width), print the latencies (s) as JSON."""
    participant = DdsParticipant(loopback_config(), network_name="loopback")
    sub = participant.subscription(f"/timing/image_{width}", Image, RELIABLE)
    print("ready", flush=True)
    latencies: list[float] = []
    deadline = time.time() + 30
    while len(latencies) < FRAMES and time.time() < deadline:
        participant.wait(0.5)
        for msg in sub.take():
            pixels = frame_to_rgb(msg)
            latencies.append(time.time() - msg.header.stamp.to_seconds())
            assert pixels.shape == (height, width, 3)
    participant.close()
    print(json.dumps(latencies), flush=True)


def cyclonedds_serializer_ms(msg: Image, repeat: int = 3) -> float:
    from hardware.dds.convert import to_idl

    obj = to_idl(msg)
    began = time.perf_counter()
    for _ in range(repeat):
        obj.serialize()
    return 1000 * (time.perf_counter() - began) / repeat


def main() -> None:
    for height, width in SIZES:
        child = subprocess.Popen([sys.executable, __file__, "--receive", str(height), str(width)],
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert child.stdout.readline().strip() == "ready"
        participant = DdsParticipant(loopback_config(), network_name="loopback")
        pub = participant.publisher(f"/timing/image_{width}", Image, RELIABLE)
        wait_for(lambda: pub.subscriber_count() > 0, 10.0, "the receiver never matched")
        time.sleep(0.2)
        pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        publish_s = []
        for _ in range(FRAMES):
            began = time.time()
            pub.publish(numpy_to_image(pixels, "rgb8", stamp=began))
            publish_s.append(time.time() - began)
            time.sleep(0.05)
        out, _ = child.communicate(timeout=60)
        participant.close()
        latencies = json.loads(out.strip().splitlines()[-1])
        print(json.dumps({
            "size": f"{width}x{height}", "frames": len(latencies), "bytes": height * width * 3,
            "median_ms": round(1000 * float(np.median(latencies)), 3), "p90_ms": round(1000 * float(np.percentile(
                latencies, 90)), 3), "publish_median_ms": round(1000 * float(np.median(publish_s)), 3),
            "cyclonedds_serializer_ms": round(cyclonedds_serializer_ms(numpy_to_image(pixels, "rgb8", 1.0)), 1),
        }), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--receive":
        receive(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
