// Sora Lab feed widget (anywidget): a phone-shaped vertical feed, one clip per screen.
// Media streams from the lab server by URL (HTTP Range), never through the widget channel.
// The kernel side (sora_lab/feed_widget.py) pages the feed and records engagement.

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(n) {
  return n >= 1000 ? (n / 1000).toFixed(1).replace(/\.0$/, "") + "k" : String(n);
}

function render({ model, el: root }) {
  root.classList.add("sl-root");
  const phone = el("div", "sl-phone");
  phone.dataset.testid = "feed-phone";
  const feed = el("div", "sl-feed");
  feed.dataset.testid = "feed";
  const status = el("div", "sl-status");
  status.dataset.testid = "feed-status";

  // --- top controls: steering and generation -------------------------------------
  const controls = el("div", "sl-controls");
  const steerRow = el("form", "sl-row");
  const steerInput = el("input", "sl-input");
  steerInput.placeholder = "Steer: more ocean clips, fewer spinning stars";
  steerInput.dataset.testid = "steer-input";
  const steerBtn = el("button", "sl-btn", "Steer");
  steerBtn.type = "submit";
  steerRow.append(steerInput, steerBtn);
  steerRow.addEventListener("submit", (e) => {
    e.preventDefault();
    model.send({ kind: "steer", text: steerInput.value, index: currentIndex() });
  });
  const genRow = el("form", "sl-row");
  const genInput = el("input", "sl-input");
  genInput.placeholder = "Describe a clip to generate into the feed";
  genInput.dataset.testid = "prompt-input";
  const genBtn = el("button", "sl-btn", "Generate");
  genBtn.type = "submit";
  genRow.append(genInput, genBtn);
  genRow.addEventListener("submit", (e) => {
    e.preventDefault();
    if (genInput.value.trim()) model.send({ kind: "generate", prompt: genInput.value.trim(), index: currentIndex() });
  });
  const progress = el("div", "sl-progress");
  const bar = el("div", "sl-bar");
  const progressText = el("span", "sl-progress-text");
  progress.append(bar, progressText);
  progress.dataset.testid = "generate-progress";
  controls.append(steerRow, genRow, progress);

  phone.append(feed, status);
  root.append(controls, phone);

  // --- clips ----------------------------------------------------------------------
  const nodes = new Map(); // video_id -> {section, video, likeBtn, ...}
  let soundOn = false;
  let visibleId = null;

  function currentIndex() {
    const items = model.get("items");
    const i = items.findIndex((it) => it.video_id === visibleId);
    return i < 0 ? 0 : i;
  }

  function button(icon, label, testid) {
    const b = el("button", "sl-action");
    b.dataset.testid = testid;
    const i = el("span", "sl-icon", icon);
    const c = el("span", "sl-count", "0");
    b.append(i, c);
    b.title = label;
    return { b, c };
  }

  function makeClip(item) {
    const section = el("section", "sl-clip");
    section.dataset.videoId = item.video_id;
    section.dataset.testid = "clip";
    const video = el("video", "sl-video");
    video.muted = true;
    video.loop = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    video.preload = "none";
    video.poster = item.poster_url || "";
    video.dataset.src = item.src;
    const hint = el("div", "sl-hint", "tap for sound");
    const meta = el("div", "sl-meta");
    const chips = el("div", "sl-chips");
    const creator = el("span", "sl-chip sl-creator", "@" + item.author);
    creator.dataset.testid = "creator-chip";
    chips.append(creator);
    for (const c of item.cameos || []) {
      const chip = el("span", "sl-chip sl-cameo", "cameo @" + c);
      chip.dataset.testid = "cameo-chip";
      chips.append(chip);
    }
    const prompt = el("div", "sl-prompt", item.prompt);
    const why = el("div", "sl-why", (item.reasons || [])[0] || "");
    meta.append(chips, prompt, why);
    const rail = el("div", "sl-rail");
    const like = button("\u2665", "Like", "like-button");
    const remix = button("\u21bb", "Remix", "remix-button");
    const share = button("\u2197", "Share", "share-button");
    rail.append(like.b, remix.b, share.b);
    like.b.addEventListener("click", (e) => {
      e.stopPropagation();
      const it = model.get("items").find((x) => x.video_id === item.video_id);
      model.send({ kind: "like", video_id: item.video_id, liked: !(it && it.liked) });
    });
    remix.b.addEventListener("click", (e) => {
      e.stopPropagation();
      const text = window.prompt("Remix prompt", item.prompt);
      if (text && text.trim()) model.send({ kind: "remix", video_id: item.video_id, prompt: text.trim(), index: currentIndex() });
    });
    share.b.addEventListener("click", (e) => {
      e.stopPropagation();
      if (navigator.clipboard) navigator.clipboard.writeText(item.src).catch(() => {});
      model.send({ kind: "share", video_id: item.video_id });
    });
    section.addEventListener("click", () => {
      soundOn = !soundOn;
      for (const n of nodes.values()) n.video.muted = !soundOn || n.section.dataset.videoId !== visibleId;
      hint.textContent = soundOn ? "sound on" : "tap for sound";
    });
    section.append(video, hint, meta, rail);
    const node = { section, video, like, remix, share, watchMs: 0, lastTick: null };
    video.addEventListener("timeupdate", () => {
      const now = performance.now();
      if (node.lastTick !== null && !video.paused) node.watchMs += Math.min(now - node.lastTick, 1000);
      node.lastTick = now;
    });
    update(node, item);
    return node;
  }

  function update(node, item) {
    node.like.c.textContent = fmt(item.counts.likes);
    node.like.b.classList.toggle("sl-liked", !!item.liked);
    node.like.b.dataset.liked = item.liked ? "true" : "false";
    node.remix.c.textContent = fmt(item.counts.remixes);
    node.share.c.textContent = fmt(item.counts.shares);
  }

  function load(node, preload) {
    if (!node.video.getAttribute("src")) {
      node.video.preload = preload;
      node.video.src = node.video.dataset.src;
    }
  }

  function leave(id) {
    const node = nodes.get(id);
    if (!node) return;
    node.video.pause();
    node.lastTick = null;
    if (node.watchMs > 0) {
      model.send({ kind: "view", video_id: id, watch_ms: Math.round(node.watchMs) });
      node.watchMs = 0;
    }
  }

  function enter(id) {
    const items = model.get("items");
    const i = items.findIndex((it) => it.video_id === id);
    const node = nodes.get(id);
    if (!node) return;
    visibleId = id;
    root.dataset.visibleIndex = String(i);
    load(node, "auto");
    node.video.muted = !soundOn;
    node.video.play().catch(() => {});
    const next = items[i + 1] && nodes.get(items[i + 1].video_id);
    if (next) load(next, "auto"); // the next clip buffers while this one plays
    if (i >= items.length - 3 && model.get("has_more") && !model.get("loading")) model.send({ kind: "more" });
  }

  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const id = entry.target.dataset.videoId;
        if (entry.isIntersecting && entry.intersectionRatio >= 0.6) {
          if (visibleId && visibleId !== id) leave(visibleId);
          enter(id);
        } else if (id === visibleId && entry.intersectionRatio < 0.6) {
          leave(id);
          visibleId = null;
        }
      }
    },
    { root: feed, threshold: [0, 0.6, 1] },
  );

  function reconcile() {
    const items = model.get("items");
    const wanted = new Set(items.map((it) => it.video_id));
    for (const [id, node] of nodes) {
      if (!wanted.has(id)) {
        if (id === visibleId) leave(id);
        observer.unobserve(node.section);
        node.video.removeAttribute("src");
        node.section.remove();
        nodes.delete(id);
      }
    }
    let prev = null;
    for (const item of items) {
      let node = nodes.get(item.video_id);
      if (!node) {
        node = makeClip(item);
        nodes.set(item.video_id, node);
        observer.observe(node.section);
      } else {
        update(node, item);
      }
      const want = prev ? prev.nextSibling : feed.firstChild;
      if (want !== node.section) feed.insertBefore(node.section, want);
      prev = node.section;
    }
    root.dataset.clips = String(items.length);
  }

  function renderStatus() {
    const text = model.get("status");
    status.textContent = text;
    status.style.display = text ? "block" : "none";
    const gen = model.get("generation") || {};
    progress.style.display = gen.state ? "flex" : "none";
    bar.style.width = Math.round((gen.progress || 0) * 100) + "%";
    progressText.textContent = gen.state ? `${gen.stage || gen.state} ${Math.round((gen.progress || 0) * 100)}%` : "";
    genBtn.disabled = gen.state === "queued" || gen.state === "running";
  }

  model.on("change:items", reconcile);
  model.on("change:status", renderStatus);
  model.on("change:generation", renderStatus);
  model.on("msg:custom", (msg) => {
    if (msg.kind === "scroll_to") {
      const node = nodes.get(msg.video_id);
      if (node) node.section.scrollIntoView({ behavior: "smooth" });
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && visibleId) leave(visibleId);
  });
  window.addEventListener("pagehide", () => visibleId && leave(visibleId));
  // --- stall recovery ---------------------------------------------------------------
  // A clip that should be playing (not paused, frames buffered ahead) but whose clock has stood
  // still for STALL_MS is nudged with a seek to where it stands, which restarts the browser's media
  // pipeline; if two nudges do not move it, the source is reloaded at that time. A browser starved
  // of CPU can leave the clock stopped for good (seen in headless Chromium with three windows on two
  // cores); the viewer would otherwise see a frozen frame until they scroll away.
  const STALL_MS = 2000;
  const NUDGES_BEFORE_RELOAD = 2;
  const recoveries = { nudges: 0, reloads: 0 };
  const stallTimer = setInterval(() => {
    const node = visibleId && nodes.get(visibleId);
    if (!node) return;
    const video = node.video;
    if (video.paused || video.readyState < 3 || document.hidden) {
      node.still = null;
      return;
    }
    const t = video.currentTime;
    const now = performance.now();
    if (!node.still || node.still.t !== t) {
      node.still = { t, since: now, nudges: 0 };
    } else if (now - node.still.since >= STALL_MS) {
      node.still.since = now;
      if (node.still.nudges++ < NUDGES_BEFORE_RELOAD) {
        video.currentTime = t;
        root.dataset.stallNudges = String(++recoveries.nudges);
      } else {
        node.still = null;
        video.load();
        video.currentTime = t;
        video.play().catch(() => {});
        root.dataset.stallReloads = String(++recoveries.reloads);
      }
    }
  }, 500);

  reconcile();
  renderStatus();
  if (model.get("items").length === 0) model.send({ kind: "more" });
  return () => {
    clearInterval(stallTimer);
    observer.disconnect();
  };
}

export default { render };
