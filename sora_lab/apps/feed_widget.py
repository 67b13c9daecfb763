"""The feed as a notebook widget (anywidget): what `dashboards/feed.ipynb` shows in Voilà.

The browser side (static/feed_widget.js) draws a phone-shaped, scroll-snapping
feed and plays clips straight from the lab server by URL (HTTP Range), so only
small JSON crosses the widget channel. This kernel side pages the ranked feed,
records engagement in batches with client event ids (safe to retry), and runs
generation and remix jobs with progress.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import anywidget
import traitlets

from sora_lab.core.errors import LabError
from sora_lab.lab import Lab

_STATIC = Path(__file__).parent / "static"
VIEW_BATCH = 8  # views are sent once this many are waiting ...
VIEW_FLUSH_S = 5.0  # ... or this many seconds after the first one


class FeedWidget(anywidget.AnyWidget):
    """One viewer's infinite vertical feed; `lab` must be connected to a server (media by URL)."""

    _esm = (_STATIC / "feed_widget.js").read_text()
    _css = (_STATIC / "feed_widget.css").read_text()

    items = traitlets.List().tag(sync=True)
    has_more = traitlets.Bool(True).tag(sync=True)
    loading = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    generation = traitlets.Dict().tag(sync=True)
    viewer = traitlets.Unicode("").tag(sync=True)

    def __init__(self, lab: Lab, viewer: str, *, page_size: int = 5, steer: str | None = None, **kwargs):
        if not lab.url:
            raise LabError(
                "the feed app streams clips from the lab server; start `sora-lab serve` "
                "(or `make demo`) and open the lab with Lab.auto() / Lab.connect(url)"
            )
        super().__init__(viewer=viewer, **kwargs)
        self.lab = lab
        self.page_size = page_size
        self.steer = steer
        self._cursor: str | None = None
        self._positions: dict[str, tuple[int, int]] = {}  # video_id -> (feed session, pos) it came at
        self._session: int | None = None
        self._views: list[dict] = []
        self._views_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.on_msg(self._on_msg)
        self.load_more()

    # --- messages from the browser ----------------------------------------------------
    def _on_msg(self, _widget, content: dict, _buffers) -> None:
        kind = content.get("kind")
        handlers = {
            "more": lambda: self.load_more(),
            "like": lambda: self.like(content["video_id"], bool(content.get("liked", True))),
            "share": lambda: self.share(content["video_id"]),
            "view": lambda: self.view(content["video_id"], int(content["watch_ms"])),
            "steer": lambda: self.set_steer(content.get("text", ""), int(content.get("index", 0))),
            "generate": lambda: self.generate(content["prompt"], after=int(content.get("index", 0))),
            "remix": lambda: self.generate(
                content["prompt"], after=int(content.get("index", 0)), remix_of=content["video_id"]
            ),
        }
        handler = handlers.get(kind)
        if handler is None:
            return
        try:
            handler()
            if kind not in ("view", "more"):
                self.status = ""
        except (LabError, KeyError, ValueError) as exc:
            self.status = f"{type(exc).__name__}: {exc}"

    # --- feed ------------------------------------------------------------------------------
    def load_more(self) -> None:
        """Append the next page (the browser asks a few clips before the end)."""
        if self.loading or not self.has_more:
            return
        self.loading = True
        try:
            self.flush_views()
            page = self.lab.feed.page(as_user=self.viewer, cursor=self._cursor, limit=self.page_size,
                                      steer=self.steer)
            self._remember(page)
            known = {i["video_id"] for i in self.items}
            self.items = self.items + [self._item(i) for i in page["items"] if i["video_id"] not in known]
        finally:
            self.loading = False

    def set_steer(self, text: str, index: int) -> None:
        """Re-rank what comes after the clip on screen; what was shown stays, nothing repeats.

        Clips loaded ahead but not yet on screen are dropped here and may come back re-ranked:
        the server is told the position of the clip on screen (`seen_through`).
        """
        self.steer = text.strip()
        self.flush_views()
        seen_through = None
        if self._cursor is not None:
            on_screen = self.items[index]["video_id"] if 0 <= index < len(self.items) else None
            session, pos = self._positions.get(on_screen, (None, -1))
            seen_through = pos if session == self._session else -1
        page = self.lab.feed.page(as_user=self.viewer, cursor=self._cursor, limit=self.page_size, steer=self.steer,
                                  seen_through=seen_through)
        self._remember(page)
        self.items = self.items[: index + 1] + [self._item(i) for i in page["items"]]

    def _remember(self, page: dict) -> None:
        self._cursor = page["next_cursor"]
        self.has_more = page["next_cursor"] is not None
        self._session = page["session"]
        for item in page["items"]:
            self._positions[item["video_id"]] = (page["session"], item["pos"])

    def _item(self, item: dict) -> dict:
        return {
            "video_id": item["video_id"],
            "author": item["author"],
            "prompt": item["prompt"],
            "cameos": item.get("cameos", []),
            "counts": item["counts"],
            "liked": item.get("liked", False),
            "reasons": item.get("reasons", []),
            "duration_ms": item["duration_ms"],
            "src": self.lab.media_url(item["media"]),
            "poster_url": self.lab.media_url(item["poster"]) if item.get("poster") else "",
        }

    def _replace(self, video_id: str, **changes) -> None:
        self.items = [dict(i, **changes) if i["video_id"] == video_id else i for i in self.items]

    # --- engagement ------------------------------------------------------------------------
    def _record(self, events: list[dict]) -> None:
        for event in events:
            event.setdefault("client_event_id", uuid.uuid4().hex)
        for _attempt in range(3):  # retry is safe: the server drops client ids it has seen
            try:
                self.lab.engagement.record(as_user=self.viewer, events=events)
                return
            except (ConnectionError, TimeoutError, OSError):
                time.sleep(0.5)
        self.lab.engagement.record(as_user=self.viewer, events=events)

    def like(self, video_id: str, liked: bool = True) -> None:
        self._record([{"type": "like" if liked else "unlike", "video_id": video_id}])
        counts = self.lab.engagement.counts(as_user=self.viewer, video_id=video_id)
        self._replace(video_id, liked=liked, counts=_counts(counts))

    def share(self, video_id: str) -> None:
        self._record([{"type": "share", "video_id": video_id}])
        counts = self.lab.engagement.counts(as_user=self.viewer, video_id=video_id)
        self._replace(video_id, counts=_counts(counts))

    def view(self, video_id: str, watch_ms: int) -> None:
        """Queue a view; views go out in batches (VIEW_BATCH or VIEW_FLUSH_S)."""
        watch_ms = max(0, min(watch_ms, 10 * 60 * 1000))
        with self._views_lock:
            self._views.append({"type": "view", "video_id": video_id, "watch_ms": watch_ms,
                                "client_event_id": uuid.uuid4().hex})
            full = len(self._views) >= VIEW_BATCH
            if not full and self._timer is None:
                self._timer = threading.Timer(VIEW_FLUSH_S, self.flush_views)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush_views()

    def flush_views(self) -> None:
        with self._views_lock:
            batch, self._views = self._views, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if batch:
            try:
                self._record(batch)
            except LabError as exc:  # e.g. the clip was removed meanwhile: drop that batch, say so
                self.status = f"views not recorded: {exc}"

    # --- generation --------------------------------------------------------------------------
    def generate(self, prompt: str, *, after: int, remix_of: str | None = None) -> None:
        """Queue a generation (or remix) on the server and put the clip into the feed when done."""
        job = self.lab.videos.submit(as_user=self.viewer, prompt=prompt, remix_of=remix_of)
        self.generation = {"state": "queued", "stage": "queued", "progress": 0.0, "job_id": job["job_id"]}
        threading.Thread(target=self._follow_job, args=(job["job_id"], after), daemon=True).start()

    def _follow_job(self, job_id: str, after: int) -> None:
        while True:
            try:
                job = self.lab.videos.job(as_user=self.viewer, job_id=job_id)
            except LabError as exc:
                self.generation = {"state": "failed", "stage": str(exc), "progress": 0.0}
                return
            self.generation = {"state": job["state"], "stage": job["stage"], "progress": job["progress"],
                               "job_id": job_id}
            if job["state"] == "failed":
                self.status = f"generation failed: {(job.get('error') or {}).get('message')}"
                return
            if job["state"] == "done":
                video = job["result"]
                item = {
                    "video_id": video["video_id"], "author": video["author"], "prompt": video["prompt"],
                    "cameos": [], "counts": {"views": 0, "likes": 0, "shares": 0, "remixes": 0, "comments": 0},
                    "liked": False, "reasons": ["your new clip"], "duration_ms": video["duration_ms"],
                    "media": video["media_path"], "poster": video["poster_path"],
                }
                item = self._item(_relative_media(item))
                position = min(after + 1, len(self.items))
                self.items = self.items[:position] + [item] + [i for i in self.items[position:]
                                                               if i["video_id"] != item["video_id"]]
                self.send({"kind": "scroll_to", "video_id": item["video_id"]})
                self.generation = {}
                return
            time.sleep(0.5)


def _counts(counts: dict) -> dict:
    return {k: counts[k] for k in ("views", "likes", "shares", "remixes", "comments")}


def _relative_media(item: dict) -> dict:
    for key in ("media", "poster"):
        path = item.get(key)
        if path and path.startswith("media/"):
            item[key] = path[len("media/"):]
    return item
