"""Spark SQL reads `sora-lab metrics export` and computes the lab's DAU series (`make test-spark`).

Optional and not part of `make test`: it needs the [spark] extra (pyspark) and a Java runtime, which
`make test-spark` installs, and it starts a local Spark (about 10 s).
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta

import numpy as np
import pytest

from sora_lab.metrics.definitions import dau_sql
from sora_lab.metrics.service import MetricsService
from sora_lab.store.db import Store

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(os.environ.get("SORA_LAB_SPARK") != "1", reason="the Spark check runs with `make test-spark`"),
]


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="needs the [spark] extra: make test-spark")
    if shutil.which("java") is None:
        pytest.skip("needs a Java runtime: make test-spark installs Debian's default-jre-headless")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("sora-lab-test")
               .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


def test_spark_sql_computes_the_labs_dau_series_from_the_export(spark, tmp_path):
    store = Store.open(None)
    metrics = MetricsService(store, tmp_path)
    metrics.simulate(scenario="t", scale=0.001, days=12)
    rng = np.random.default_rng(3)
    start = datetime(2025, 9, 30)
    rows = [(start + timedelta(seconds=int(s)), f"u{u}", str(t), "US")
            for u, t, s in zip(rng.integers(0, 150, 800), rng.choice(["install", "view", "like", "follow"], 800),
                               rng.integers(0, 9 * 86400, 800), strict=True)]
    with store.write() as cur:
        cur.executemany("INSERT INTO events (ts, user_id, type, region) VALUES (?, ?, ?, ?)", rows)
    out = tmp_path / "exp"
    metrics.export(directory=str(out))

    events = spark.read.parquet(str(out))  # partition discovery: source (decoded from sim%3At) and day
    events.createOrReplaceTempView("events")
    assert dict(events.dtypes)["day"] == "date"
    assert sorted(r.source for r in spark.sql("SELECT DISTINCT source FROM events").collect()) == ["live", "sim:t"]
    for source in ("live", "sim:t"):
        spark_dau = {r.day.isoformat(): r.dau for r in spark.sql(dau_sql("events", source)).collect()}
        lab_dau = {row["day"]: row["dau"] for row in metrics.summary(sources=[source])["daily"] if row["dau"]}
        assert spark_dau == lab_dau and len(lab_dau) >= 9, source
    store.close()
