// The drainage analysis's outlines over the viewer's frame (an SVG in image pixels), and,
// for the radiologist, moving or redrawing them and recomputing the analysis from them.
(function () {
  "use strict";
  const root = document.getElementById("outline-tools");
  const svg = document.getElementById("outline-layer");
  if (!root || !svg) return;
  const NS = "http://www.w3.org/2000/svg";
  const rows = parseInt(root.dataset.rows, 10), cols = parseInt(root.dataset.cols, 10);
  const canEdit = root.dataset.edit === "1";
  const LABELS = {collecting_system: "CS", ureter: "U", bladder: "B", leak: "L"};
  const status = document.getElementById("outline-status");
  const result = document.getElementById("outline-result");
  const noBladder = document.getElementById("outline-no-bladder");
  const handleR = Math.max(cols, rows) / 90;
  let analysis = null, polys = {}, edited = {}, drawing = null, drag = null;

  function active() {
    const chosen = root.querySelector("input[name=outline-edit]:checked");
    return chosen ? chosen.value : "bladder";
  }
  function shown(region) {
    const box = root.querySelector("input[data-show=" + region + "]");
    return !box || box.checked;
  }
  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    parent.appendChild(node);
    return node;
  }
  function load(data) {
    root.hidden = false;
    if (!data.analysis) { status.textContent = "No finished analysis yet: no outlines to show."; return; }
    const shape = (data.outlines || {}).source_shape || [];
    if (!shape.length) {
      status.textContent = "This analysis ran before outlines were kept: analyse again (exam page) to see them.";
      return;
    }
    if (shape[0] !== rows || shape[1] !== cols) {
      status.textContent = "The analysis outlines belong to the " + shape[1] + "×" + shape[0] + " images of the analysed series.";
      return;
    }
    analysis = data.analysis; edited = {}; drawing = null; polys = {};
    Object.keys(LABELS).forEach(k => { polys[k] = (data.outlines[k] || []).map(p => p.map(q => q.slice())); });
    if (noBladder) noBladder.checked = data.bladder_in_field === false;
    document.getElementById("outline-controls").hidden = false;
    status.textContent = data.used + ". Suggested verdict: " + data.verdict + ".";
    render();
  }
  function render() {
    svg.replaceChildren();
    svg.classList.toggle("drawing", drawing !== null);
    const editing = canEdit ? active() : null;
    Object.keys(LABELS).forEach(region => {
      if (!shown(region) || (region === "bladder" && noBladder && noBladder.checked)) return;
      polys[region].forEach((poly, i) => {
        const g = el("g", {"class": "ol ol-" + region + (region === editing ? " ol-editing" : "")}, svg);
        const shape = el("polygon", {points: poly.map(p => p.join(",")).join(" "), "data-region": region, "data-i": i}, g);
        el("title", {}, shape).textContent = region.replace("_", " ");
        const cx = poly.reduce((a, p) => a + p[0], 0) / poly.length;
        const cy = Math.min(...poly.map(p => p[1]));
        el("text", {x: cx, y: Math.max(cy - handleR, handleR * 2), "text-anchor": "middle", "font-size": handleR * 3}, g).textContent = LABELS[region];
        if (region !== editing) return;
        poly.forEach((p, j) => el("circle", {cx: p[0], cy: p[1], r: handleR, "class": "handle", "data-region": region, "data-i": i, "data-j": j}, g));
      });
    });
    if (drawing) el("polyline", {points: drawing.map(p => p.join(",")).join(" "), "class": "ol-new"}, svg);
  }
  function point(e) {
    const box = svg.getBoundingClientRect();
    const x = (e.clientX - box.left) / box.width * cols, y = (e.clientY - box.top) / box.height * rows;
    return [Math.round(Math.min(Math.max(x, 0), cols) * 10) / 10, Math.round(Math.min(Math.max(y, 0), rows) * 10) / 10];
  }
  root.addEventListener("change", e => { if (e.target.name !== "outline-reason") render(); });
  fetch(root.dataset.src, {credentials: "same-origin"}).then(r => r.json()).then(load)
    .catch(() => { status.textContent = "The outlines could not be loaded."; });
  if (!canEdit) return;

  svg.addEventListener("pointerdown", e => {
    const t = e.target, region = t.dataset ? t.dataset.region : null;
    if (drawing) { drawing.push(point(e)); render(); return; }
    if (!region || region !== active()) return;
    e.preventDefault(); e.stopPropagation();
    drag = {region: region, i: +t.dataset.i, j: t.dataset.j === undefined ? null : +t.dataset.j, from: point(e)};
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener("pointermove", e => {
    if (!drag) return;
    const p = point(e), poly = polys[drag.region][drag.i];
    if (drag.j !== null) { poly[drag.j] = p; }
    else {
      clampMove(poly, p[0] - drag.from[0], p[1] - drag.from[1]);
      drag.from = p;
    }
    edited[drag.region] = true;
    render();
  });
  svg.addEventListener("pointerup", () => { drag = null; });
  function clampMove(poly, dx, dy) {
    poly.forEach(q => { q[0] = Math.round(Math.min(Math.max(q[0] + dx, 0), cols) * 10) / 10; q[1] = Math.round(Math.min(Math.max(q[1] + dy, 0), rows) * 10) / 10; });
  }
  // Without a mouse: move the whole outline by 2 % of the image per press.
  root.querySelectorAll("[data-nudge]").forEach(button => button.addEventListener("click", () => {
    const [dx, dy] = button.dataset.nudge.split(",").map(Number), step = Math.max(cols, rows) / 50;
    polys[active()].forEach(poly => clampMove(poly, dx * step, dy * step));
    edited[active()] = true;
    render();
  }));
  document.getElementById("outline-redraw").addEventListener("click", () => {
    drawing = []; status.textContent = "Click around the " + active().replace("_", " ") + ", then press Finish outline.";
    render();
  });
  document.getElementById("outline-finish").addEventListener("click", () => {
    if (!drawing) return;
    if (drawing.length < 3) { status.textContent = "An outline needs at least 3 points."; return; }
    polys[active()] = [drawing]; edited[active()] = true; drawing = null;
    status.textContent = "New " + active().replace("_", " ") + " outline drawn. Press Recompute to use it.";
    render();
  });
  document.getElementById("outline-recompute").addEventListener("click", () => {
    const body = {analysis: analysis, outlines: {}, reason: document.getElementById("outline-reason").value};
    Object.keys(edited).forEach(k => { body.outlines[k] = polys[k]; });
    if (noBladder && noBladder.checked) { body.outlines.bladder_in_field = false; delete body.outlines.bladder; }
    const progress = document.getElementById("outline-progress");
    progress.hidden = false; result.textContent = "Recomputing the curves, metrics and verdict…";
    fetch(root.dataset.correct, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": root.querySelector("input[name=csrfmiddlewaretoken]").value},
      body: JSON.stringify(body),
    }).then(r => r.json().then(data => ({ok: r.ok, data: data}))).then(({ok, data}) => {
      progress.hidden = true;
      if (!ok) { result.textContent = data.error || "Not recomputed."; return; }
      result.textContent = "New verdict: " + data.verdict + " (confidence " + Number(data.confidence).toFixed(2) + "). " + data.reasons.join("; ") + ".";
      load(Object.assign(data, {bladder_in_field: !(noBladder && noBladder.checked)}));
    }).catch(() => { progress.hidden = true; result.textContent = "Not recomputed: the server could not be reached."; });
  });
})();
