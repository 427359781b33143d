"""The app's submit path without a window: save reports to the outbox and send them, as the phone does.

Used by the kill test (a separate process killed at random moments) and handy for trying a server:
    GRIDFLOW_FIELD_PASSWORD=… python -m field_app.headless --data /tmp/phone --server http://127.0.0.1:8000 \
        --worker wg_zhongshan_01 --cycles 10
The password comes from the environment, never the command line (which every user of the machine can read).
Each saved report is printed as `saved <report_id>` once it is committed, so a watcher knows what must arrive.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from field_app.core.models import LocationFix, ReportStatus
from field_app.core.service import FieldService

PASSWORD_ENV = "GRIDFLOW_FIELD_PASSWORD"
ZHONGSHAN = LocationFix(lon=121.6447, lat=38.9206, accuracy_m=10.0)


def _say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    service = FieldService(Path(args.data), start_worker=False)
    same = service.server_url == args.server.rstrip("/") and service.username == args.worker
    if not service.signed_in or not same:
        service.sign_in(args.worker, os.environ.get(PASSWORD_ENV, ""), args.server)
    # Cycles already in the outbox (from runs that were killed) are not made again: the phone would not
    # re-type a report the worker already saved.
    done = len(service.outbox.entries())
    _say(f"ready {done}")
    photo = Path(args.photo) if args.photo else None
    for cycle in range(done, args.cycles):
        draft = service.new_draft()
        draft.category_code, draft.category_name = args.category, "kill-test"
        draft.description = f"{args.label} 第{cycle + 1}次上报"
        draft.location = LocationFix(ZHONGSHAN.lon + cycle * 1e-5, ZHONGSHAN.lat, ZHONGSHAN.accuracy_m)
        if photo is not None and args.photo_every and cycle % args.photo_every == 0:
            service.attach_photo(draft, photo)
        entry = service.submit(draft, observed_at=datetime.now().astimezone())
        _say(f"saved {entry.report_id}")
        service.sync_now()
    return drain(service, timeout=args.drain_timeout)


def drain(service: FieldService, *, timeout: float) -> int:
    """Send until nothing waits (every report accepted, every photo up) or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert service.engine is not None
        service.engine.offline_until = 0.0  # a watcher restarts us when it wants; do not sleep out a backoff
        service.sync_now()
        counts = service.outbox.counts()
        unsent = counts[ReportStatus.WAITING] + counts[ReportStatus.SENDING]
        if unsent == 0 and not service.outbox.photos_to_upload():
            _say(f"drained {counts[ReportStatus.SENT]} sent, {counts[ReportStatus.FAILED]} failed")
            service.close()
            return 0 if counts[ReportStatus.FAILED] == 0 else 1
        time.sleep(0.2)
    _say("timeout")
    service.close()
    return 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the phone's data folder (outbox database, photos)")
    parser.add_argument("--server", required=True)
    parser.add_argument("--worker", required=True, help=f"the account's username (password: ${PASSWORD_ENV})")
    parser.add_argument("--cycles", type=int, default=1, help="reports to save in total, across restarts")
    parser.add_argument("--category", default="10101", help="a code from GET /api/v1/categories")
    parser.add_argument("--label", default="无窗口上报")
    parser.add_argument("--photo", help="a JPEG/PNG/WebP file to attach")
    parser.add_argument("--photo-every", type=int, default=0, help="attach the photo to every Nth report")
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
