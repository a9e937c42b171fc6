// The upload page: drop or choose files, each is sent to POST detect and shown as a card with a
// plain-language verdict, a waveform, the per-window timeline, a time axis, warnings and a JSON report.
// No framework and nothing from outside this server, so the page works offline.
'use strict';

(() => {
  // Verdict bands over the chance of machine-made speech (p_fake). The page's "How to read the results"
  // table states the same bands: keep the two in step.
  const SURENESS = [
    { from: 0.9, words: 'Very sure' },
    { from: 0.7, words: 'Fairly sure' },
    { from: 0.0, words: 'Unsure: a close call' },
  ];
  const MEANING = {
    fake: {
      'Very sure': 'There are strong signs of machine-made speech. Treat the recording as generated unless its source can be checked.',
      'Fairly sure': 'There are clear signs of machine-made speech, but they are not conclusive. Check the source before relying on it.',
      'Unsure: a close call': 'The signs of machine-made speech are weak and the evidence is close to even. Do not rely on this result alone.',
    },
    real: {
      'Very sure': 'No signs of machine-made speech were found. This is evidence, not proof: a voice generator the model has never met can go unnoticed.',
      'Fairly sure': 'Few signs of machine-made speech were found. Some moments scored higher; the timeline shows where.',
      'Unsure: a close call': 'The evidence is close to even. Do not rely on this result alone.',
    },
  };
  // Known server warnings, said in plain words; anything else is shown as the server wrote it.
  const PLAIN_WARNINGS = [
    [/^no speech found/i, () => 'No speech could be heard: the file is silent or nearly silent.'],
    [/^narrowband audio/i, () => 'This sounds like a phone call or a low-quality recording (no high pitches). The detector is least reliable on such audio.'],
    [/^strong background noise/i, () => 'There is a lot of background noise. The detector is unreliable when noise is this strong.'],
    [/^lossy-compressed audio \(([^)]*)\)/i, (m) => `The file is compressed (${m[1]}). Compression removes fine detail the detector looks at, so the result is less certain.`],
    [/^audio is only ([\d.]+) s long/i, (m) => `The recording is very short (${m[1]} seconds). Short clips give less certain results.`],
  ];
  const TIME_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  const WAVE_BUCKETS = 2400;      // peak pairs kept per file: enough for any screen width
  const DECODE_RATE = 8000;       // the waveform needs no more detail than this
  const KEY_STORE = 'deepfake-audio-key';

  const $ = (selector, root = document) => root.querySelector(selector);
  const dropZone = $('#drop');
  const fileInput = $('#file');
  const explainBox = $('#explain');
  const resultsBox = $('#results');
  const toolbar = $('#toolbar');
  const summary = $('#summary');
  const keyRow = $('#key-row');
  const keyInput = $('#api-key');
  const template = $('#card-template');

  const entries = [];   // {file, card, result, state}
  const queue = [];
  let running = false;

  keyInput.value = sessionStorage.getItem(KEY_STORE) || '';
  if (keyInput.value) keyRow.hidden = false;
  keyInput.addEventListener('change', () => sessionStorage.setItem(KEY_STORE, keyInput.value));

  // ----- choosing and dropping files -----
  fileInput.addEventListener('change', () => {
    addFiles(fileInput.files);
    fileInput.value = '';  // choosing the same file again must start a new analysis
  });
  dropZone.addEventListener('click', (event) => {
    // The label and the input open the chooser themselves; a click elsewhere in the zone does it here.
    if (event.target === fileInput || event.target.closest('label')) return;
    fileInput.click();
  });
  dropZone.addEventListener('submit', (event) => event.preventDefault());
  for (const type of ['dragenter', 'dragover']) {
    dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      dropZone.classList.add('dragging');
    });
  }
  dropZone.addEventListener('dragleave', (event) => {
    if (!dropZone.contains(event.relatedTarget)) dropZone.classList.remove('dragging');
  });
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    addFiles(event.dataTransfer.files);
  });
  // A file dropped beside the zone would otherwise make the browser leave the page to open it.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => {
    event.preventDefault();
    if (dropZone.contains(event.target)) return;  // the zone's own handler has taken these files
    if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
  });

  $('#download-all').addEventListener('click', () => {
    const done = entries.filter((e) => e.result).map((e) => e.result);
    download(done, 'deepfake-audio-report.json');
  });
  $('#clear').addEventListener('click', () => {
    for (const entry of entries) {
      entry.cancelled = true;
      if (entry.audioUrl) URL.revokeObjectURL(entry.audioUrl);
      entry.card.remove();
    }
    entries.length = 0;
    queue.length = 0;
    updateSummary();
  });

  function addFiles(fileList) {
    for (const file of Array.from(fileList || [])) {
      const entry = { file, card: makeCard(file), result: null, state: 'waiting', explain: explainBox.checked };
      entries.push(entry);
      resultsBox.appendChild(entry.card);
      entry.peaks = decodePeaks(file).catch(() => null);
      queue.push(entry);
    }
    updateSummary();
    pump();
  }

  // One upload at a time: the server scores one file per worker, and a queue keeps the order predictable.
  async function pump() {
    if (running) return;
    running = true;
    while (queue.length) {
      const entry = queue.shift();
      if (entry.cancelled) continue;
      await analyse(entry);
      updateSummary();
    }
    running = false;
  }

  function makeCard(file) {
    const card = template.content.firstElementChild.cloneNode(true);
    $('.file-name', card).textContent = file.name;
    $('.file-meta', card).textContent = formatBytes(file.size);
    setStatus(card, 'Waiting for the files before it…', false);
    return card;
  }

  function setStatus(card, text, busy, isError = false) {
    const status = $('.status', card);
    status.textContent = '';
    status.classList.toggle('error', isError);
    if (busy) {
      const spin = document.createElement('span');
      spin.className = 'spinner';
      status.appendChild(spin);
    }
    if (text) status.appendChild(document.createTextNode(text));
  }

  async function analyse(entry) {
    const { file, card } = entry;
    entry.state = 'running';
    const started = performance.now();
    const tick = () => {
      const seconds = Math.round((performance.now() - started) / 1000);
      setStatus(card, `Analysing… ${seconds} s` + (seconds >= 5 ? ' (long recordings take a while)' : ''), true);
    };
    tick();
    const timer = setInterval(tick, 1000);
    const body = new FormData();
    body.append('file', file, file.name);
    if (entry.explain) body.append('explain', 'true');
    const headers = {};
    if (keyInput.value) {
      headers['Authorization'] = 'Bearer ' + keyInput.value;
      headers['X-API-Key'] = keyInput.value;
    }
    let response;
    let data = null;
    try {
      response = await fetch('detect', { method: 'POST', body, headers });
      data = await response.json().catch(() => null);
    } catch (err) {
      clearInterval(timer);
      entry.state = 'failed';
      setStatus(card, 'Could not reach the server. Is it still running?', false, true);
      return;
    }
    clearInterval(timer);
    if (entry.cancelled) return;
    if (!response.ok || !data || data.error) {
      entry.state = 'failed';
      setStatus(card, failureText(response, data), false, true);
      return;
    }
    entry.state = 'done';
    entry.result = data;
    setStatus(card, '', false);
    render(entry, await entry.peaks);
  }

  function failureText(response, data) {
    const detail = data && (data.error || (typeof data.detail === 'string' ? data.detail : null));
    if (response.status === 401 || response.status === 403) {
      keyRow.hidden = false;
      keyInput.focus();
      return 'This server needs an access key. Enter it above, then choose the file again.';
    }
    if (response.status === 413) return 'This file is larger than the server accepts. ' + (detail || '');
    if (response.status === 429 || response.status === 503) return 'The server is busy. Try again in a moment.';
    if (detail) return 'Could not analyse this file: ' + detail;
    return `Could not analyse this file (the server answered ${response.status} ${response.statusText}).`;
  }

  // ----- the verdict -----
  function noVerdictReason(result) {
    if (typeof result.no_verdict === 'string' && result.no_verdict) return result.no_verdict;
    const silent = (result.warnings || []).find((w) => /^no speech found/i.test(w));
    if (silent) return silent;
    if (result.label == null || result.p_fake == null) return 'the recording could not be judged';
    return null;
  }

  // The chance the verdict rests on: a recording called machine-made because of a segment is as
  // machine-made as that segment, even when the average over the whole recording is low.
  function evidence(result) {
    let p = result.p_fake;
    const segments = result.segments || [];
    if (result.label === 'fake' && segments.length) {
      p = Math.max(p == null ? 0 : p, ...segments.map((s) => (s.p_fake == null ? 0 : s.p_fake)));
    }
    return p;
  }

  function describe(result) {
    const reason = noVerdictReason(result);
    if (reason) {
      const silent = /speech|silen/i.test(reason);
      return {
        kind: 'none',
        head: silent ? 'No speech found' : 'No verdict',
        sure: '',
        meaning: silent
          ? 'The file is silent or nearly silent, so there is nothing to judge. Check that it is the recording you meant.'
          : 'The recording could not be judged: ' + reason + '.',
        reason,
      };
    }
    const kind = result.label === 'fake' ? 'fake' : 'real';
    const p = evidence(result);
    const chanceOfVerdict = kind === 'fake' ? p : 1 - p;
    const sure = SURENESS.find((band) => chanceOfVerdict >= band.from).words;
    const segments = result.segments || [];
    let meaning = MEANING[kind][sure];
    const duration = result.duration || 0;
    const partial = kind === 'fake' && segments.length
      && segments.reduce((sum, s) => sum + (s.end - s.start), 0) < 0.8 * duration;
    const voiced = (result.windows || []).filter((w) => !w.silent);
    const loud = voiced.filter((w) => w.p_fake >= 0.5).length;
    if (kind === 'real' && loud) {
      // The whole-recording verdict can be "real" while some moments score high: say so, not "no signs".
      meaning = `${loud === 1 ? 'One moment' : `${loud} of ${voiced.length} moments`} scored as machine-made `
        + '(red on the timeline), but not enough to call the recording machine-made. Listen to those parts '
        + 'before relying on this result.';
    }
    if (partial) {
      meaning = 'Part of this recording sounds machine-made (marked on the timeline); the rest sounds real. '
        + 'Edited recordings, with generated speech spliced into real speech, look like this.';
    }
    return {
      kind,
      head: kind === 'fake' ? 'Likely machine-made' : 'Likely real',
      sure,
      chance: `Chance of machine-made speech${partial ? ' in the marked part' : ''}: ${percent(p)}.`,
      meaning,
    };
  }

  function render(entry, peaks) {
    const { card, result } = entry;
    const duration = result.duration || (result.windows.length ? result.windows[result.windows.length - 1].end : 0);
    $('.file-meta', card).textContent = `${formatDuration(duration)} · ${formatBytes(entry.file.size)}`;

    const verdict = describe(result);
    const box = $('.verdict', card);
    box.hidden = false;
    box.className = 'verdict ' + verdict.kind;
    box.textContent = '';
    addText(box, 'p', 'verdict-head', verdict.head);
    if (verdict.sure) addText(box, 'p', 'verdict-sure', `${verdict.sure}. ${verdict.chance}`);
    addText(box, 'p', 'verdict-meaning', verdict.meaning);

    renderTimeline(entry, duration, peaks, verdict);
    renderSegments(card, result, duration, verdict);
    renderWarnings(card, result, verdict);
    renderWhy(entry, null);

    const actions = $('.card-actions', card);
    actions.hidden = false;
    const player = $('.player', card);
    entry.audioUrl = URL.createObjectURL(entry.file);
    player.src = entry.audioUrl;
    // A browser that cannot play the format (or a policy that forbids it) just loses the player.
    player.addEventListener('error', () => { player.hidden = true; });
    player.addEventListener('timeupdate', () => movePlayhead(card, player.currentTime, duration));
    player.addEventListener('seeked', () => movePlayhead(card, player.currentTime, duration));
    $('.download', card).addEventListener('click', () => download(result, reportName(entry.file.name)));
  }

  // ----- waveform + timeline + axis, all on the scale "percent of the recording's duration" -----
  function renderTimeline(entry, duration, peaks, verdict) {
    const { card, result } = entry;
    const viz = $('.viz', card);
    viz.hidden = false;
    const bars = $('.bars', card);
    bars.textContent = '';
    const windows = result.windows || [];
    const spans = windowSpans(windows, duration);
    const legend = $('.legend', card);
    legend.hidden = false;
    // Only the colours this card uses are explained under it.
    const used = {
      's-fake': windows.some((w) => !w.silent && w.p_fake >= 0.5),
      's-real': windows.some((w) => !w.silent && w.p_fake < 0.5),
      's-silent': windows.some((w) => w.silent),
      's-segment': verdict.kind !== 'none' && (result.segments || []).length > 0,
    };
    for (const [swatch, shown] of Object.entries(used)) legend.querySelector('.' + swatch).parentElement.hidden = !shown;
    windows.forEach((w, i) => {
      const bar = document.createElement('div');
      const p = w.p_fake == null ? 0 : w.p_fake;
      bar.className = 'bar ' + (w.silent ? 'silent' : p >= 0.5 ? 'fake' : 'real');
      place(bar, spans[i][0], spans[i][1], duration);
      bar.style.height = (w.silent ? 6 : Math.max(4, 100 * p)) + '%';
      bar.dataset.index = String(i);
      bar.title = windowText(w, duration);
      bars.appendChild(bar);
      // With only a few wide bars (a short clip), each carries its number so a low bar still reads.
      if (windows.length <= 4 && !w.silent) {
        const value = addText(bars, 'span', 'bar-value', percent(p));
        value.style.left = (100 * (spans[i][0] + spans[i][1]) / 2 / (duration || 1)) + '%';
        if (p > 0.7) {
          value.classList.add('inside');
          value.style.bottom = `calc(${100 * p}% - 1.2rem)`;
        } else {
          value.style.bottom = Math.max(4, 100 * p) + '%';
        }
      }
    });
    const half = document.createElement('div');
    half.className = 'half-line';
    bars.appendChild(half);
    addText(bars, 'span', 'half-label', '50%');
    bars.setAttribute('aria-label', `Timeline of ${windows.length} scored stretch${windows.length === 1 ? '' : 'es'} over ${formatDuration(duration)}`);

    const segments = verdict.kind === 'none' ? [] : (result.segments || []);
    const waveBox = $('.wave-box', card);
    for (const layer of [waveBox, bars]) {
      for (const s of segments) {
        const mark = document.createElement('div');
        mark.className = 'segment';
        place(mark, s.start, s.end, duration);
        if (layer === waveBox) addText(mark, 'span', 'segment-tag', 'machine-made');
        layer.appendChild(mark);
      }
    }

    const canvas = $('.wave', card);
    $('.wave-note', card).hidden = Boolean(peaks);
    const redraw = () => {
      bars.classList.toggle('dense', windows.length * 5 > viz.clientWidth);
      if (peaks) drawWave(canvas, peaks, duration);
      drawAxis($('.axis', card), duration, viz.clientWidth);
    };
    redraw();
    new ResizeObserver(redraw).observe(viz);

    const readout = $('.readout', card);
    readout.hidden = false;
    readout.textContent = windows.length ? 'Point at or tap the timeline to see the score of each moment.' : '';
    const at = (event) => {
      const rect = viz.getBoundingClientRect();
      const t = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1) * duration;
      const i = spans.findIndex(([a, b]) => t >= a && t <= b);
      return { t, i };
    };
    viz.addEventListener('pointermove', (event) => {
      const { t, i } = at(event);
      readout.textContent = i >= 0 ? windowText(windows[i], duration) : `${formatClock(t, duration)}: not scored`;
    });
    viz.addEventListener('click', (event) => {
      const { t, i } = at(event);
      const player = $('.player', card);
      if (player.src && !player.hidden) {
        player.currentTime = t;
        movePlayhead(card, t, duration);
      }
      for (const bar of bars.querySelectorAll('.bar.selected')) bar.classList.remove('selected');
      if (i >= 0) {
        bars.querySelector(`.bar[data-index="${i}"]`).classList.add('selected');
        readout.textContent = windowText(windows[i], duration);
        renderWhy(entry, i);
      }
    });
  }

  // Windows overlap (a hop shorter than the window); each bar covers the part of the recording nearest
  // its window's centre, so bars tile the timeline without overlapping.
  function windowSpans(windows, duration) {
    const centres = windows.map((w) => (w.start + w.end) / 2);
    return windows.map((w, i) => [
      i === 0 ? w.start : (centres[i - 1] + centres[i]) / 2,
      i === windows.length - 1 ? Math.min(w.end, duration || w.end) : (centres[i] + centres[i + 1]) / 2,
    ]);
  }

  function place(element, start, end, duration) {
    const d = duration > 0 ? duration : 1;
    const left = Math.max(0, Math.min(start / d, 1));
    const right = Math.max(left, Math.min(end / d, 1));
    element.style.left = (100 * left) + '%';
    element.style.width = (100 * (right - left)) + '%';
  }

  function drawAxis(axis, duration, width) {
    axis.textContent = '';
    if (!(duration > 0)) return;
    const maxTicks = Math.max(3, Math.min(8, Math.floor(width / 68)));
    const step = TIME_STEPS.find((s) => Math.floor(duration / s + 1e-9) + 1 <= maxTicks) || TIME_STEPS[TIME_STEPS.length - 1];
    const count = Math.floor(duration / step + 1e-9);
    for (let k = 0; k <= count; k++) {
      const t = k * step;
      const tick = addText(axis, 'span', 'tick', formatTick(t, step, duration));
      tick.style.left = (100 * t / duration) + '%';
      if (k === 0) tick.classList.add('first');
      // The last label sits at the right edge only when it is at the very end; otherwise centred.
      else if (duration - t < 0.04 * duration) tick.classList.add('last');
    }
  }

  function movePlayhead(card, t, duration) {
    const head = $('.playhead', card);
    head.hidden = false;
    head.style.left = (100 * Math.min(t / (duration || 1), 1)) + '%';
  }

  // Decode in the browser to draw the waveform; a format the browser cannot decode shows the timeline only.
  async function decodePeaks(file) {
    const Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
    if (!Offline) return null;
    const bytes = await file.arrayBuffer();
    const context = new Offline(1, 1, DECODE_RATE);
    const audio = await new Promise((resolve, reject) => {
      const p = context.decodeAudioData(bytes, resolve, reject);
      if (p && p.catch) p.catch(reject);
    });
    const channels = [];
    for (let c = 0; c < audio.numberOfChannels; c++) channels.push(audio.getChannelData(c));
    const n = audio.length;
    const buckets = Math.max(1, Math.min(WAVE_BUCKETS, n));
    const lows = new Float32Array(buckets);
    const highs = new Float32Array(buckets);
    let loudest = 1e-9;
    for (let b = 0; b < buckets; b++) {
      const from = Math.floor(b * n / buckets);
      const to = Math.max(from + 1, Math.floor((b + 1) * n / buckets));
      let lo = 0;
      let hi = 0;
      for (let i = from; i < to; i++) {
        let v = 0;
        for (const data of channels) v += data[i];
        v /= channels.length;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      lows[b] = lo;
      highs[b] = hi;
      loudest = Math.max(loudest, -lo, hi);
    }
    return { lows, highs, loudest, duration: audio.duration };
  }

  function drawWave(canvas, peaks, duration) {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, width, height);
    const mid = height / 2;
    g.strokeStyle = '#c9d0db';
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(0, mid + 0.5);
    g.lineTo(width, mid + 0.5);
    g.stroke();
    // The decoded length can differ a little from the server's; both are drawn on the server's scale.
    const span = Math.min(1, (peaks.duration || duration) / (duration || peaks.duration || 1));
    const columns = Math.max(1, Math.round(width * span));
    const scale = (0.92 * mid) / peaks.loudest;
    g.fillStyle = '#4a5d80';
    const buckets = peaks.lows.length;
    for (let x = 0; x < columns; x++) {
      const from = Math.floor(x * buckets / columns);
      const to = Math.max(from + 1, Math.floor((x + 1) * buckets / columns));
      let lo = 0;
      let hi = 0;
      for (let b = from; b < to; b++) {
        if (peaks.lows[b] < lo) lo = peaks.lows[b];
        if (peaks.highs[b] > hi) hi = peaks.highs[b];
      }
      const top = mid - hi * scale;
      const bottom = mid - lo * scale;
      g.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
  }

  // ----- segments, warnings and the "why" view -----
  function renderSegments(card, result, duration, verdict) {
    const box = $('.segments', card);
    const segments = verdict.kind === 'none' ? [] : (result.segments || []);
    box.textContent = '';
    box.hidden = !segments.length;
    if (!segments.length) return;
    addText(box, 'p', '', segments.length === 1
      ? 'One stretch sounds machine-made:'
      : `${segments.length} stretches sound machine-made:`);
    const list = document.createElement('ul');
    for (const s of segments) {
      const chance = s.p_fake == null ? '' : ` (chance of machine-made speech ${percent(s.p_fake)})`;
      addText(list, 'li', '', `${formatClock(s.start, duration)} to ${formatClock(s.end, duration)}${chance}`);
    }
    box.appendChild(list);
  }

  function renderWarnings(card, result, verdict) {
    const list = $('.warnings', card);
    list.textContent = '';
    const warnings = (result.warnings || []).filter((w) => w !== verdict.reason && !(verdict.kind === 'none' && /^no speech found/i.test(w)));
    list.hidden = !warnings.length;
    for (const w of warnings) {
      const item = document.createElement('li');
      addText(item, 'strong', '', 'Note: ');
      item.appendChild(document.createTextNode(plainWarning(w)));
      item.title = w;
      list.appendChild(item);
    }
  }

  function plainWarning(text) {
    for (const [pattern, say] of PLAIN_WARNINGS) {
      const match = text.match(pattern);
      if (match) return say(match);
    }
    return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
  }

  // Without a window chosen, the bands are averaged over the windows the verdict rests on: those judged
  // machine-made when the verdict is machine-made, all voiced windows otherwise.
  function renderWhy(entry, index) {
    const { card, result } = entry;
    const why = $('.why', card);
    const body = $('.why-body', card);
    const windows = result.windows || [];
    const explained = windows.filter((w) => Array.isArray(w.explanation) && w.explanation.length && !w.silent);
    why.hidden = noVerdictReason(result) !== null;
    body.textContent = '';
    if (!explained.length) {
      addText(body, 'p', '', entry.explain
        ? 'This server did not send an explanation for this file (its model or version may not support it).'
        : 'Tick "Also explain each verdict" above the results and choose the file again to see which frequency bands the verdict relied on.');
      return;
    }
    let chosen;
    let scope;
    const picked = index == null ? null : windows[index];
    if (picked && Array.isArray(picked.explanation) && picked.explanation.length) {
      chosen = [picked];
      scope = `For ${formatClock(picked.start, result.duration)} to ${formatClock(picked.end, result.duration)} (click elsewhere on the timeline to see another moment):`;
    } else {
      const flagged = explained.filter((w) => w.p_fake >= 0.5);
      chosen = result.label === 'fake' && flagged.length ? flagged : explained;
      scope = chosen === flagged
        ? `Averaged over the ${flagged.length} moment${flagged.length === 1 ? '' : 's'} that sound machine-made (click the timeline to see one moment):`
        : 'Averaged over the whole recording (click the timeline to see one moment):';
    }
    const totals = new Map();
    for (const w of chosen) {
      for (const band of w.explanation) {
        const key = band.band_hz.join('-');
        const slot = totals.get(key) || { band: band.band_hz, sum: 0, n: 0 };
        slot.sum += Number(band.delta) || 0;
        slot.n += 1;
        totals.set(key, slot);
      }
    }
    const rows = [...totals.values()].map((s) => ({ band: s.band, delta: s.sum / s.n }))
      .sort((a, b) => a.band[0] - b.band[0]);
    const largest = Math.max(1e-9, ...rows.map((r) => Math.abs(r.delta)));
    addText(body, 'p', '', 'Each band of pitches was hidden in turn and the audio scored again. A long bar means the verdict relied on that band: '
      + 'red bars pushed toward machine-made, green bars toward real.');
    addText(body, 'p', '', scope);
    for (const row of rows) {
      const line = document.createElement('div');
      line.className = 'band-row';
      addText(line, 'span', '', formatBand(row.band));
      const track = document.createElement('span');
      track.className = 'band-track';
      const fill = document.createElement('span');
      fill.className = 'band-fill ' + (row.delta >= 0 ? 'to-fake' : 'to-real');
      fill.style.width = (50 * Math.abs(row.delta) / largest) + '%';
      track.appendChild(fill);
      track.title = `change when hidden: ${row.delta.toFixed(4)}`;
      line.appendChild(track);
      addText(line, 'span', 'band-effect', Math.abs(row.delta) < 0.05 * largest ? 'little effect'
        : row.delta > 0 ? 'toward machine-made' : 'toward real');
      body.appendChild(line);
    }
  }

  // ----- helpers -----
  function updateSummary() {
    toolbar.hidden = !entries.length;
    const done = entries.filter((e) => e.state === 'done').length;
    const failed = entries.filter((e) => e.state === 'failed').length;
    const left = entries.length - done - failed;
    const parts = [`${entries.length} file${entries.length === 1 ? '' : 's'}`];
    if (done) parts.push(`${done} analysed`);
    if (failed) parts.push(`${failed} could not be analysed`);
    if (left) parts.push(`${left} in progress`);
    summary.textContent = parts.join(' · ');
    $('#download-all').disabled = !done;
  }

  function download(data, name) {
    const blob = new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function reportName(fileName) {
    return fileName.replace(/\.[^.]*$/, '') + '.deepfake-audio.json';
  }

  function addText(parent, tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    element.textContent = text;
    parent.appendChild(element);
    return element;
  }

  function windowText(w, duration) {
    const range = `${formatClock(w.start, duration)} to ${formatClock(w.end, duration)}`;
    if (w.silent) return `${range}: silence, not judged`;
    return `${range}: ${percent(w.p_fake)} chance of machine-made speech`;
  }

  function percent(p) {
    if (p == null || Number.isNaN(p)) return 'unknown';
    const value = 100 * p;
    if (value > 99 && value < 100) return 'over 99%';
    if (value > 0 && value < 1) return 'under 1%';
    return Math.round(value) + '%';
  }

  // Short recordings read in seconds ("2.5 s"), longer ones as a clock ("1:05").
  function formatClock(t, duration) {
    if ((duration || t) < 60) return `${(Math.round(t * 10) / 10).toFixed(1)} s`;
    return clock(Math.round(t));
  }

  function formatTick(t, step, duration) {
    if (duration < 60) return `${step < 1 ? +t.toFixed(1) : Math.round(t)} s`;
    return clock(Math.round(t));
  }

  function clock(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const ss = String(s).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  }

  function formatDuration(seconds) {
    if (!(seconds > 0)) return '0 s';
    if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
    return clock(Math.round(seconds));
  }

  function formatBand([lo, hi]) {
    const khz = (f) => (f >= 1000 ? `${+(f / 1000).toFixed(1)} kHz` : `${Math.round(f)} Hz`);
    return `${khz(lo)}–${khz(hi)}`;
  }

  function formatBytes(bytes) {
    if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
    if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
    return `${bytes} bytes`;
  }
})();
