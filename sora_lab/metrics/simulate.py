"""An agent-based, invite-only launch that writes ordinary events into the lab.

Each simulated person is one row in a set of numpy arrays. A day loop moves
people between states — downloaded but waiting for an invite, has access,
gave up — and every state change or daily activity becomes events with
`source = 'sim:<scenario>'`. Events are built as whole columns and inserted
with one `INSERT ... SELECT` from an Arrow table, never row by row.

The mechanics, each a parameter of `SimConfig`:
- demand: hype-driven downloads per day (a launch spike decaying to an organic floor), by region;
- gating: before `open_day` a download is useless without an invite code; codes come from the
  operator (the waitlist) and from members (`invites_per_user` each, shared over their first days);
- a shared code is redeemed by someone already waiting, or by a friend who downloads on the spot;
- waiting people give up; on `open_day` the invite requirement is lifted (and `open_regions` can
  download), so some of those who gave up come back;
- churn: a person's lifetime in days follows survival S(k) = min(1, a·k^-b + c); while alive they are
  active on a day with probability `active_prob`; creators generate up to the daily generation limit.

Scale: `scale` multiplies every population number (0.01 = one simulated person per hundred).
Reported counts are not rescaled in the lab; the calibration fit divides by `scale`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from sora_lab.core.errors import InputError
from sora_lab.core.home import read_json, write_json_atomic
from sora_lab.metrics.rollup import build_source
from sora_lab.store.db import Store

# Event types in the order of their dictionary codes.
SIM_TYPES = (
    "install", "invite_sent", "invite_redeemed", "session_start", "view", "like", "share", "remix",
    "comment", "generate", "cameo_created",
)
T = {name: i for i, name in enumerate(SIM_TYPES)}
_DAY_US = 86_400_000_000
DEFAULT_SCENARIO = "default"
DEMO_SCALE = 0.01
SCENARIOS_FILE = "scenarios.json"


@dataclass
class SimConfig:
    """Knobs of a simulated launch. Defaults are calibrated to the public launch figures (see reference.py)."""

    name: str = DEFAULT_SCENARIO
    days: int = 35
    seed: int = 7
    scale: float = 1.0
    start: str = "2025-09-30"
    # demand (downloads per day at scale 1, before invite-driven downloads)
    launch_downloads: float = 115_000  # day 0
    peak_downloads: float = 285_000  # day 1
    hype_decay: float = 0.84  # day-over-day factor after the peak
    organic_floor: float = 20_000
    region_shares: dict = field(default_factory=lambda: {"US": 0.9, "CA": 0.1})
    # opening up
    open_day: int | None = 29
    open_regions: dict = field(default_factory=lambda: {"JP": 0.55, "KR": 0.45})
    open_region_downloads: float = 60_000  # extra daily demand in open_regions from open_day, decaying
    return_on_open: float = 0.04  # share of waiting or given-up downloaders who come back on open_day
    # invites
    invites_per_user: int = 4
    operator_codes_per_day: float = 20_000
    share_prob: float = 0.1  # per unused code and day, in a member's first week
    redeem_prob: float = 0.7
    friend_downloads_share: float = 0.2  # of redeemed codes, share going to a friend who downloads on the spot
    population: float = 8_000_000  # everyone who could ever want the app; friends are drawn from those not yet in
    give_up_prob: float = 0.25  # per day, for someone waiting for an invite
    # churn and activity
    active_prob: float = 0.8
    survival_a: float = 0.32
    survival_b: float = 1.5
    survival_c: float = 0.008
    creator_share: float = 0.3
    generations_per_creator_day: float = 2.5
    daily_generation_limit: int = 30
    views_per_active_day: float = 5.0
    like_rate: float = 0.2
    share_rate: float = 0.03
    remix_rate: float = 0.03
    comment_rate: float = 0.02
    cameo_rate: float = 0.35
    reinstall_prob: float = 0.03

    def validate(self) -> None:
        if not (self.name.replace("_", "").replace("-", "").replace(".", "").isalnum() and len(self.name) <= 40):
            raise InputError(f"name {self.name!r}: use letters, digits, '_', '-' or '.', at most 40 characters")
        if not 1 <= self.days <= 120:
            raise InputError(f"days must be between 1 and 120 (got {self.days})")
        if not 0 < self.scale <= 2:
            raise InputError(f"scale must be in (0, 2] (got {self.scale}); 1.0 is the full-size launch")
        if not 0 <= self.invites_per_user <= 100:
            raise InputError(f"invites_per_user must be between 0 and 100 (got {self.invites_per_user})")
        if self.open_day is not None and not 0 <= self.open_day:
            raise InputError(f"open_day must be >= 0 or None for never (got {self.open_day})")
        if self.daily_generation_limit < 0:
            raise InputError("daily_generation_limit must be >= 0")
        for name in ("share_prob", "redeem_prob", "friend_downloads_share", "give_up_prob", "active_prob",
                     "creator_share", "like_rate", "share_rate", "remix_rate", "comment_rate", "cameo_rate",
                     "reinstall_prob", "return_on_open"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InputError(f"{name} must be a probability between 0 and 1 (got {value})")
        try:
            date.fromisoformat(self.start)
        except ValueError:
            raise InputError(f"start {self.start!r} is not a date; use YYYY-MM-DD") from None

    @classmethod
    def from_kwargs(cls, **kwargs) -> SimConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known
        if unknown:
            raise InputError(
                f"unknown simulation parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        config = cls(**{k: v for k, v in kwargs.items() if v is not None})
        config.validate()
        return config

    @property
    def source(self) -> str:
        return f"sim:{self.name}"


class _People:
    """Growable columns, one entry per simulated person."""

    def __init__(self):
        self.cols: dict[str, np.ndarray] = {
            "install_us": np.zeros(0, np.int64),  # everyone simulated downloads the app
            "region": np.zeros(0, np.int16),
            "access_us": np.zeros(0, np.int64),  # -1: no access yet
            "inviter": np.zeros(0, np.int64),  # -1: none, -2: operator / waitlist code
            "waiting": np.zeros(0, bool),
            "gave_up": np.zeros(0, bool),
            "codes": np.zeros(0, np.int32),
        }

    def __len__(self) -> int:
        return len(self.cols["install_us"])

    def add(self, install_us: np.ndarray, region: np.ndarray, access_us: np.ndarray, inviter: np.ndarray,
            codes: np.ndarray) -> np.ndarray:
        n = len(install_us)
        first = len(self)
        new = {
            "install_us": install_us, "region": region.astype(np.int16), "access_us": access_us,
            "inviter": inviter, "waiting": access_us < 0, "gave_up": np.zeros(n, bool), "codes": codes.astype(np.int32),
        }
        for key, values in new.items():
            self.cols[key] = np.concatenate([self.cols[key], values])
        return np.arange(first, first + n)


def _demand(config: SimConfig, day: int) -> float:
    if day == 0:
        base = config.launch_downloads
    else:
        base = max(config.peak_downloads * config.hype_decay ** (day - 1), config.organic_floor)
    return base * config.scale


def _survival(config: SimConfig, max_k: int) -> np.ndarray:
    """S(k) for k = 0..max_k: the chance a person is still around k days after getting access."""
    k = np.arange(max_k + 1, dtype=float)
    k[0] = 1.0
    s = np.minimum(1.0, config.survival_a * k ** -config.survival_b + config.survival_c)
    s[0] = 1.0
    return s


def simulate(config: SimConfig) -> tuple[pa.Table, dict]:
    """Run the launch; return the events as an Arrow table (events schema columns) and run stats."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    start_us = int((datetime.fromisoformat(config.start) - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    regions = list(dict.fromkeys([*config.region_shares, *config.open_regions]))
    region_index = {r: i for i, r in enumerate(regions)}
    launch_p = np.array(list(config.region_shares.values()), float)
    launch_idx = np.array([region_index[r] for r in config.region_shares])
    open_p = np.array(list(config.open_regions.values()), float)
    open_idx = np.array([region_index[r] for r in config.open_regions])
    people = _People()
    sent_by, sent_us = [], []
    invites = config.invites_per_user

    for day in range(config.days):
        day_us = start_us + day * _DAY_US
        is_open = config.open_day is not None and day >= config.open_day
        # 1. organic downloads (launch regions; open regions join on open_day)
        n = rng.poisson(_demand(config, day))
        region = launch_idx[rng.choice(len(launch_p), size=n, p=launch_p / launch_p.sum())]
        if is_open and len(open_p):
            m = rng.poisson(config.open_region_downloads * config.scale * 0.8 ** (day - config.open_day))
            region = np.concatenate([region, open_idx[rng.choice(len(open_p), size=m, p=open_p / open_p.sum())]])
        install = day_us + rng.integers(0, _DAY_US, size=len(region))
        access = np.where(is_open, install + rng.integers(0, 600_000_000, size=len(region)), -1)
        people.add(install, region, access, np.full(len(region), -1), np.zeros(len(region)))
        cols = people.cols
        # 2. opening up: some of those still waiting, or who gave up, come back
        if is_open and day == config.open_day:
            back = np.nonzero((cols["access_us"] < 0) & (rng.random(len(people)) < config.return_on_open))[0]
            cols["access_us"][back] = day_us + rng.integers(0, _DAY_US, size=back.size)
            cols["waiting"][back] = False
        # 3. operator codes to the waitlist (people who downloaded and wait), before opening up
        if not is_open:
            pool = np.nonzero(cols["waiting"])[0]
            k = min(pool.size, rng.poisson(config.operator_codes_per_day * config.scale))
            chosen = rng.choice(pool, size=k, replace=False) if k else np.zeros(0, np.int64)
            _grant(cols, chosen, day_us, rng, inviter=-2, codes=invites)
        # 4. members share codes in their first week; a redeemed code goes to someone waiting or a new friend
        if not is_open and invites:
            holders = np.nonzero((cols["codes"] > 0) & (cols["access_us"] >= 0)
                                 & (cols["access_us"] >= day_us - 7 * _DAY_US))[0]
            shares = rng.binomial(cols["codes"][holders], config.share_prob)
            cols["codes"][holders] -= shares
            inviters = np.repeat(holders, shares)
            share_time = np.maximum(cols["access_us"][inviters], day_us) + rng.integers(0, 3_600_000_000,
                                                                                        size=inviters.size)
            sent_by.append(inviters)
            sent_us.append(share_time)
            redeemed = rng.random(inviters.size) < config.redeem_prob
            inviters, share_time = inviters[redeemed], share_time[redeemed]
            untapped = max(0.0, 1.0 - len(people) / (config.population * config.scale))
            to_friend = rng.random(inviters.size) < config.friend_downloads_share * untapped
            pool = np.nonzero(cols["waiting"])[0]
            waiting_takers = min(pool.size, int((~to_friend).sum()))
            order = np.argsort(to_friend, kind="stable")  # waiting takers first
            inviters, share_time = inviters[order], share_time[order]
            chosen = rng.choice(pool, size=waiting_takers, replace=False) if waiting_takers else np.zeros(0, np.int64)
            _grant(cols, chosen, share_time[:waiting_takers], rng, inviter=inviters[:waiting_takers], codes=invites)
            friend_inviters = inviters[waiting_takers:][to_friend[order][waiting_takers:]]
            friend_share_time = share_time[waiting_takers:][to_friend[order][waiting_takers:]]
            friends = friend_inviters.size
            friend_install = friend_share_time + rng.integers(0, 3_600_000_000, size=friends)
            friend_install = np.minimum(friend_install, day_us + _DAY_US - 2_000_000)
            people.add(friend_install, cols["region"][friend_inviters], friend_install + 1_000_000, friend_inviters,
                       np.full(friends, invites))
            cols = people.cols
        # 5. some of those waiting give up for good (unless opening up brings them back)
        waiting = np.nonzero(cols["waiting"])[0]
        quit_ = waiting[rng.random(waiting.size) < config.give_up_prob]
        cols["waiting"][quit_] = False
        cols["gave_up"][quit_] = True

    events, stats = _events(config, people, np.concatenate(sent_by or [np.zeros(0, np.int64)]),
                            np.concatenate(sent_us or [np.zeros(0, np.int64)]), start_us, rng)
    user_ids = _user_ids(config.name, len(people))
    table = _arrow(config, events, user_ids, regions)
    stats |= {"people": len(people), "with_access": int((people.cols["access_us"] >= 0).sum())}
    return table, stats


def _grant(cols: dict, chosen: np.ndarray, when, rng, *, inviter, codes: int) -> None:
    """Give access to waiting people `chosen` at time(s) `when` (no earlier than their install)."""
    if not len(chosen):
        return
    when = np.maximum(np.broadcast_to(when, chosen.shape), cols["install_us"][chosen] + 1_000_000)
    cols["access_us"][chosen] = when + rng.integers(0, 1_800_000_000, size=chosen.size)
    cols["inviter"][chosen] = inviter
    cols["waiting"][chosen] = False
    cols["codes"][chosen] = codes


def _events(config: SimConfig, people: _People, sent_by, sent_us, start_us: int, rng) -> tuple[dict, dict]:
    """All events as columns: user index, time (µs), type code, inviter index (-1), watch_ms (-1)."""
    cols = people.cols
    end_us = start_us + config.days * _DAY_US
    n = len(people)
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []
    everyone = np.arange(n)
    parts.append((everyone, cols["install_us"], T["install"]))
    again = everyone[rng.random(n) < config.reinstall_prob]
    reinstall_us = cols["install_us"][again] + rng.integers(1, 20, size=again.size) * _DAY_US
    keep = reinstall_us < end_us
    parts.append((again[keep], reinstall_us[keep], T["install"]))
    parts.append((sent_by, sent_us, T["invite_sent"]))
    has = np.nonzero((cols["access_us"] >= 0) & (cols["access_us"] < end_us))[0]
    invited = has[cols["inviter"][has] != -1]
    parts.append((invited, cols["access_us"][invited], T["invite_redeemed"]))

    # activity: day 0 = access day (always active), then lifetime L ~ survival curve, active_prob per day
    access_day = (cols["access_us"][has] - start_us) // _DAY_US
    remaining = config.days - 1 - access_day
    surv = _survival(config, config.days)
    lifetime = np.searchsorted(-surv[1:], -rng.random(has.size), side="right")  # count of k>=1 with S(k) >= u
    span = np.minimum(lifetime, remaining)
    user = np.repeat(has, span + 1)
    k = np.arange(user.size) - np.repeat(np.cumsum(span + 1) - (span + 1), span + 1)
    active = (k == 0) | (rng.random(user.size) < config.active_prob)
    user, k = user[active], k[active]
    day_start = start_us + (np.repeat(access_day, span + 1)[active] + k) * _DAY_US
    begin = np.where(k == 0, cols["access_us"][user] + 1_000_000, day_start)
    length = np.maximum(day_start + _DAY_US - begin, 1)

    def at(idx: np.ndarray) -> np.ndarray:
        return begin[idx] + (rng.random(idx.size) * length[idx]).astype(np.int64)

    pairs = np.arange(user.size)
    parts.append((user, at(pairs), T["session_start"]))
    views = 1 + rng.poisson(max(config.views_per_active_day - 1, 0), size=user.size)
    view_pair = np.repeat(pairs, views)
    parts.append((user[view_pair], at(view_pair), T["view"]))
    for name, rate in (("like", config.like_rate), ("share", config.share_rate), ("remix", config.remix_rate),
                       ("comment", config.comment_rate)):
        count = rng.binomial(views, rate)
        idx = np.repeat(pairs, count)
        parts.append((user[idx], at(idx), T[name]))
    creator = rng.random(n) < config.creator_share
    gens = np.where(creator[user], rng.poisson(config.generations_per_creator_day, size=user.size), 0)
    gens = np.minimum(gens, config.daily_generation_limit)
    idx = np.repeat(pairs, gens)
    parts.append((user[idx], at(idx), T["generate"]))
    first = pairs[k == 0]
    cameo = first[rng.random(first.size) < config.cameo_rate]
    parts.append((user[cameo], at(cameo), T["cameo_created"]))

    users = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    types = np.concatenate([np.full(len(p[0]), p[2], np.int8) for p in parts])
    inviter = np.full(users.size, -1, np.int64)
    redeemed = types == T["invite_redeemed"]
    inviter[redeemed] = cols["inviter"][users[redeemed]]
    inviter[inviter < 0] = -1
    watch = np.where(types == T["view"], rng.integers(500, 10_001, size=users.size), -1)
    keep = ts < end_us
    events = {"user": users[keep], "ts": ts[keep], "type": types[keep], "inviter": inviter[keep],
              "watch_ms": watch[keep], "region": cols["region"][users[keep]]}
    return events, {"active_user_days": int(user.size)}


def _user_ids(name: str, n: int) -> np.ndarray:
    """Short ids (≤ 12 chars, so DuckDB keeps them inline): 's' + 3 hex of the scenario name + '-' + hex index."""
    tag = hashlib.sha1(name.encode()).hexdigest()[:3]
    return np.array([f"s{tag}-{i:x}" for i in range(n)], dtype=object)


def _arrow(config: SimConfig, ev: dict, user_ids: np.ndarray, regions: list[str]) -> pa.Table:
    ids = pa.array(user_ids, pa.string())
    inviter = ev["inviter"]
    return pa.table(
        {
            "ts": pa.array(ev["ts"], pa.timestamp("us")),
            "user_id": pa.DictionaryArray.from_arrays(pa.array(ev["user"], pa.int32()), ids),
            "type": pa.DictionaryArray.from_arrays(pa.array(ev["type"], pa.int8()), pa.array(SIM_TYPES)),
            "target_id": pa.DictionaryArray.from_arrays(
                pa.array(np.where(inviter < 0, 0, inviter), pa.int32(), mask=inviter < 0), ids
            ),
            "region": pa.DictionaryArray.from_arrays(pa.array(ev["region"], pa.int16()), pa.array(regions)),
            "watch_ms": pa.array(ev["watch_ms"], pa.int32(), mask=ev["watch_ms"] < 0),
        }
    )


def write_events(store: Store, source: str, table: pa.Table, timings: dict | None = None) -> int:
    """Replace every event of `source` with `table`, and its metrics rollup, in one transaction.

    Rows are stored ordered by user, then time: the metric scans group by user, and neighbouring rows
    of one user keep that hash aggregate cache-friendly (measured ~25% faster summaries, ~10% slower ingest).
    `timings`, if given, receives how long the events and the rollup took (seconds), for the benchmark."""
    t0 = time.perf_counter()
    with store.write() as cur:
        cur.execute("DELETE FROM events WHERE source = ?", [source])
        cur.register("sim_batch", table)
        try:
            cur.execute(
                "INSERT INTO events (ts, user_id, type, video_id, target_id, region, watch_ms, source, props) "
                "SELECT ts, CAST(user_id AS VARCHAR), CAST(type AS VARCHAR), NULL, CAST(target_id AS VARCHAR), "
                "CAST(region AS VARCHAR), watch_ms, ?, NULL FROM sim_batch ORDER BY user_id, ts",
                [source],
            )
        finally:
            cur.unregister("sim_batch")
        t1 = time.perf_counter()
        build_source(cur, source, table)  # the per-user rollup the summary reads, in the same transaction
        t2 = time.perf_counter()
    if timings is not None:
        timings |= {"events_s": t1 - t0, "rollup_s": t2 - t1, "commit_s": time.perf_counter() - t2}
    return table.num_rows


def run_scenario(store: Store, config: SimConfig) -> dict:
    """Simulate and store one scenario; report sizes and rates (events per second of ingest)."""
    t0 = time.perf_counter()
    table, stats = simulate(config)
    t1 = time.perf_counter()
    timings: dict = {}
    rows = write_events(store, config.source, table, timings)
    t2 = time.perf_counter()
    return {
        "scenario": config.name,
        "source": config.source,
        "config": asdict(config),
        "events": rows,
        **stats,
        "simulate_s": round(t1 - t0, 3),
        "ingest_s": round(t2 - t1, 3),
        "ingest_events_per_s": int(rows / max(t2 - t1, 1e-9)),
        "rollup_s": round(timings["rollup_s"], 3),  # part of ingest_s: the per-user rollup
    }


def remember_scenario(home: Path, config: SimConfig) -> None:
    """Keep a scenario's settings in the lab home (scenarios.json), so fits can undo its scale."""
    path = home / SCENARIOS_FILE
    write_json_atomic(path, read_json(path) | {config.name: asdict(config)})


def seed_default_scenario(store: Store, *, scale: float = DEMO_SCALE, seed: int = 7, home: Path | None = None) -> dict:
    """The demo lab's one simulated launch: the default (calibrated) scenario at 1/100 scale, a few seconds."""
    config = SimConfig(name=DEFAULT_SCENARIO, scale=scale, seed=seed)
    report = run_scenario(store, config)
    home = home or (store.path.parent if store.path else None)
    if home is not None:
        remember_scenario(Path(home), config)
    return report
