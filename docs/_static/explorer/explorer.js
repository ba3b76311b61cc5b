/*
 * The explorer: the trained cells of rnnreport, run in the reader's browser.
 *
 * The build writes the models to scripts (explorer_digits.js, explorer_counters.js) that add
 * them to window.RNNREPORT_MODELS: every weight of each model (float32, base64) and what
 * running it needs, read from the model (rnnreport.experiments.explorer): the cell's column
 * blocks, the GRU's reset variant, the LSTM's forget bias, the lowest raw pixel level that
 * counts as ink, the head. The equations below are those of rnnreport/model/cells.py, one
 * line per equation, in float64; the browser test holds them to the Python forward.
 *
 * A page asks for a widget with <div class="rnnreport-explorer" data-explorer="step-through">
 * (a digit read row by row by the grid's classifiers) or data-explorer="counter" (a string
 * read by the aⁿbⁿ counters). No framework, no network: plain DOM and canvas.
 */
(function () {
  "use strict";

  // -- vectors (Float64Array) and the weights ---------------------------------------------

  /** An exported tensor: {shape, data}, its float32 values held as float64. */
  function tensor(entry) {
    const bytes = Uint8Array.from(atob(entry.float32), (ch) => ch.charCodeAt(0));
    const values = new Float32Array(bytes.buffer);
    return { shape: entry.shape, data: Float64Array.from(values) };
  }

  const map = (v, fn) => v.map(fn);
  const add = (...vs) => vs[0].map((_, k) => vs.reduce((s, v) => s + v[k], 0));
  const mul = (a, b) => a.map((v, k) => v * b[k]);
  const oneMinus = (a) => a.map((v) => 1 - v);
  const sigma = (a) => map(a, (v) => 1 / (1 + Math.exp(-v)));
  const tanh = (a) => map(a, Math.tanh);
  const relu = (a) => map(a, (v) => Math.max(v, 0));
  const softmax = (a) => {
    const top = Math.max(...a);
    const e = map(a, (v) => Math.exp(v - top));
    const sum = e.reduce((s, v) => s + v, 0);
    return map(e, (v) => v / sum);
  };

  /** Row vector x (D) times the columns [from, to) of M (D × n): x M[:, from:to]. */
  function times(x, M, from, to) {
    const n = M.shape[1];
    const out = new Float64Array(to - from);
    for (let d = 0; d < x.length; d++) {
      if (x[d] === 0) continue;
      const row = d * n;
      for (let k = from; k < to; k++) out[k - from] += x[d] * M.data[row + k];
    }
    return out;
  }

  /** torch's nn.Linear: weight (out × in), y = x Wᵀ + b. */
  function linear(weight, bias, x) {
    const [outs, ins] = weight.shape;
    const y = Float64Array.from(bias.data);
    for (let o = 0; o < outs; o++) {
      for (let d = 0; d < ins; d++) y[o] += weight.data[o * ins + d] * x[d];
    }
    return y;
  }

  // -- the cells (rnnreport/model/cells.py) -------------------------------------------------

  /** A model's recurrent cell, its column blocks read from the exported layout. */
  function Cell(model) {
    const w = (name) => tensor(model.weights[`rnn.cells.0.${name}`]);
    const H = model.units;
    const cell = { model, H, U: w("U"), W: w("W"), b: w("b") };
    if (model.weights["rnn.cells.0.b_hn"]) cell.b_hn = w("b_hn");
    // columns(name): where the block of `name` sits in U, W and b (blocks in the model's order)
    cell.columns = (name) => {
      const k = model.blocks.indexOf(name);
      return [k * H, (k + 1) * H];
    };
    // split(a): the full pre-activation vector cut into its blocks, by name
    cell.split = (a) =>
      Object.fromEntries(model.blocks.map((name) => [name, a.slice(...cell.columns(name))]));
    // h W restricted to the block `name`: h_{t-1} W_name
    cell.recurrent = (h, name) => times(h, cell.W, ...cell.columns(name));
    cell.project = (x) => add(times(x, cell.U, 0, cell.U.shape[1]), cell.b.data); // a_x = x U + b
    cell.initial = () => ({ h: new Float64Array(H), c: new Float64Array(H) });
    cell.step = model.cell === "lstm" ? lstmStep : gruStep;
    return cell;
  }

  /** One LSTM step: a_x = x_t U + b, state = {h: h_{t-1}, c: c_{t-1}}. */
  function lstmStep(cell, a_x, state) {
    const W = cell.W.shape[1];
    const a = cell.split(add(a_x, times(state.h, cell.W, 0, W))); // pre-activations by block
    const i = sigma(a.i);
    const f = sigma(map(a.f, (v) => v + cell.model.forget_bias));
    const j = tanh(a.j);
    const o = sigma(a.o);
    const c = add(mul(f, state.c), mul(i, j));
    const h = mul(o, tanh(c));
    return { state: { h, c }, gates: { i, f, j, o, c } };
  }

  /** One GRU step: a_x = x_t U + b, state = {h: h_{t-1}}; reset before or after W_h. */
  function gruStep(cell, a_x, state) {
    const a = cell.split(a_x);
    const h_prev = state.h;
    const z = sigma(add(a.z, cell.recurrent(h_prev, "z")));
    const r = sigma(add(a.r, cell.recurrent(h_prev, "r")));
    const h_tilde =
      cell.model.reset === "before"
        ? tanh(add(a.h_tilde, cell.recurrent(mul(r, h_prev), "h_tilde")))
        : tanh(add(a.h_tilde, mul(r, add(cell.recurrent(h_prev, "h_tilde"), cell.b_hn.data))));
    const h = add(mul(oneMinus(z), h_tilde), mul(z, h_prev));
    return { state: { h }, gates: { z, r, h_tilde } };
  }

  /** Run `cell` over the input vectors xs; every step's gates (gate_names) and h. */
  function unroll(cell, xs) {
    let state = cell.initial();
    const steps = [];
    for (const x of xs) {
      const out = cell.step(cell, cell.project(x), state);
      state = out.state;
      steps.push({ ...out.gates, h: state.h });
    }
    return steps;
  }

  // -- the models: the grid's classifier and the counter --------------------------------------

  /** The classifier: affine 28 → H per row, the cell, then ReLU, FC 64, ReLU, FC 10, softmax
   * on every step's output, as if the image ended there. `pixels`: 28 rows of 28 zeros/ones. */
  function Classifier(model) {
    const w = (name) => tensor(model.weights[name]);
    const embed = [w("embed.weight"), w("embed.bias")];
    const fc1 = [w("fc1.weight"), w("fc1.bias")];
    const fc2 = [w("fc2.weight"), w("fc2.bias")];
    const cell = Cell(model);
    const head = (h) => softmax(linear(...fc2, relu(linear(...fc1, relu(h)))));
    return {
      model,
      run(pixels) {
        const xs = pixels.map((row) => linear(...embed, Float64Array.from(row)));
        return unroll(cell, xs).map((s) => ({ ...s, p: head(s.h) }));
      },
    };
  }

  /** The counter: one-hot symbols (^ a b c), the cell, an affine map and a sigmoid per
   * next symbol (a b c $). */
  function Counter(model) {
    const head = [tensor(model.weights["head.weight"]), tensor(model.weights["head.bias"])];
    const cell = Cell(model);
    return {
      model,
      run(text) {
        const xs = Array.from("^" + text, (s) =>
          Float64Array.from(model.inputs, (name) => (name === s ? 1 : 0)),
        );
        return unroll(cell, xs).map((s) => ({ ...s, p: sigma(linear(...head, s.h)) }));
      },
    };
  }

  // -- the languages (rnnreport/data/languages.py) ------------------------------------------

  /** The string of the language with blocks of n: letters "ab", n = 2 → "aabb". */
  const member = (letters, n) => Array.from(letters, (l) => l.repeat(n)).join("");

  /** Whether `text` is a string of the language (some n ≥ 1). */
  function isMember(letters, text) {
    const n = text.length / letters.length;
    return Number.isInteger(n) && n >= 1 && text === member(letters, n);
  }

  /** Whether `text` begins some string of the language. */
  function isPrefix(letters, text) {
    let n = 0;
    while (n < text.length && text[n] === letters[0]) n++;
    if (n === text.length) return true; // only first letters so far (or nothing)
    return n >= 1 && member(letters, n).startsWith(text);
  }

  /** The symbols that may follow `prefix`: those continuing it to a prefix of some string,
   * and "$" where it is a string itself (for a string of the language, next_sets). */
  function allowedAfter(model, prefix) {
    return model.outputs.filter((s) =>
      s === "$" ? isMember(model.letters, prefix) : isPrefix(model.letters, prefix + s),
    );
  }

  /** What the counter says about `text`: is it recognised (every prediction exactly the
   * allowed set), is it accepted (each symbol was predicted before it came, and $ at the end). */
  function verdict(model, text, steps) {
    const predicted = steps.map((s) => model.outputs.filter((_, k) => s.p[k] > 0.5));
    let firstWrong = -1;
    for (let t = 0; t < steps.length && firstWrong < 0; t++) {
      const allowed = allowedAfter(model, text.slice(0, t));
      const same = allowed.length === predicted[t].length && allowed.every((s) => predicted[t].includes(s));
      if (!same) firstWrong = t;
    }
    let rejectedAt = -1; // the position whose symbol was not predicted (text.length: no $)
    for (let t = 0; t <= text.length && rejectedAt < 0; t++) {
      const next = t < text.length ? text[t] : "$";
      if (!predicted[t].includes(next)) rejectedAt = t;
    }
    return { member: isMember(model.letters, text), recognised: firstWrong < 0, firstWrong, rejectedAt };
  }

  // -- drawing --------------------------------------------------------------------------------

  const ROW_PX = 6; // CSS pixels per step in the maps
  const COL_PX = 3; // CSS pixels per unit

  /** A colour for v: diverging blue-white-red on [-1, 1] (signed), or dark-to-yellow on [0, 1]. */
  function colour(v, signed) {
    if (signed) {
      const a = Math.max(-1, Math.min(1, v));
      const t = Math.abs(a);
      const base = a >= 0 ? [178, 24, 43] : [33, 102, 172];
      return base.map((c) => Math.round(255 + (c - 255) * t));
    }
    const t = Math.max(0, Math.min(1, v));
    return [Math.round(20 + 232 * t), Math.round(12 + 215 * t * t), Math.round(60 + 40 * t - 60 * t * t)];
  }

  /** Paint `rows` (T arrays of values) into `canvas`, one pixel per value, scaled by CSS. */
  function paint(canvas, rows, { signed = false, scale = 1, ink = false } = {}) {
    const T = rows.length;
    const n = rows[0].length;
    canvas.width = n;
    canvas.height = T;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(n, T);
    rows.forEach((row, t) => {
      for (let k = 0; k < n; k++) {
        const rgb = ink ? (row[k] ? [0, 0, 0] : [255, 255, 255]) : colour(row[k] / scale, signed);
        img.data.set([...rgb, 255], (t * n + k) * 4);
      }
    });
    ctx.putImageData(img, 0, 0);
  }

  /** An element with a class and children. */
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) node.append(child);
    return node;
  }

  /** A map: a label above a canvas of T rows, a marker on step t and a veil on later steps. */
  function mapPanel(label, columns) {
    const canvas = el("canvas", "explorer-canvas");
    canvas.style.width = `${columns * COL_PX}px`;
    canvas.style.height = `${28 * ROW_PX}px`;
    const marker = el("div", "explorer-marker");
    const veil = el("div", "explorer-veil");
    const frame = el("div", "explorer-frame", canvas, veil, marker);
    const title = el("div", "explorer-label");
    title.innerHTML = label;
    const panel = el("div", "explorer-map", title, frame);
    panel.show = (t, T) => {
      marker.style.top = `${(t - 1) * ROW_PX}px`;
      marker.style.height = `${ROW_PX}px`;
      veil.style.top = `${t * ROW_PX}px`;
      veil.style.height = `${(T - t) * ROW_PX}px`;
    };
    panel.canvas = canvas;
    return panel;
  }

  // -- the step-through widget --------------------------------------------------------------

  const MAPS = {
    lstm: [["h", "h<sub>t</sub>", true], ["c", "c<sub>t</sub>", true], ["i", "i<sub>t</sub>"], ["f", "f<sub>t</sub>"], ["o", "o<sub>t</sub>"]],
    gru: [["h", "h<sub>t</sub>", true], ["z", "z<sub>t</sub>"], ["r", "r<sub>t</sub>"]],
  };

  function stepThrough(root, models, digits) {
    const classifiers = models.map(Classifier);
    const first = models[0];
    const T = first.steps;
    const levels = new Uint8Array(first.steps * first.pixels); // raw levels 0…255, as MNIST
    const state = { t: T, results: [], pixels: [] };

    // the picker: the build's test digits, as thumbnails
    const picker = el("div", "explorer-picker");
    digits.rows.forEach((rows, k) => {
      const thumb = el("canvas", "explorer-thumb");
      paint(thumb, rows.map((r) => Array.from(r, Number)), { ink: true });
      const button = el("button", "explorer-digit", thumb);
      button.type = "button";
      button.title = `test digit ${digits.labels[k]}`;
      button.setAttribute("aria-label", `test digit ${digits.labels[k]}, example ${k + 1}`);
      button.addEventListener("click", () => choose(k));
      picker.append(button);
    });

    // the pad: draw with mouse or touch; a soft pen, binarized as the models' input
    const pad = el("canvas", "explorer-pad");
    pad.width = first.pixels;
    pad.height = T;
    pad.setAttribute("aria-label", "drawing pad, 28 by 28 pixels");
    const clear = el("button", "explorer-button", "clear");
    clear.type = "button";
    clear.addEventListener("click", () => {
      levels.fill(0);
      update();
    });
    const padBox = el("div", "explorer-padbox", pad, clear);

    // the slider: step t of 1…28 (mouse, touch and arrow keys)
    const slider = el("input", "explorer-slider");
    Object.assign(slider, { type: "range", min: 1, max: T, step: 1, value: T });
    slider.setAttribute("aria-label", "step");
    const stepText = el("output", "explorer-step");
    slider.addEventListener("input", () => {
      state.t = Number(slider.value);
      show();
    });

    const panels = classifiers.map((clf) => {
      const m = clf.model;
      const maps = {
        x: mapPanel("row x<sub>t</sub>", m.pixels),
        ...Object.fromEntries(MAPS[m.cell].map(([name, label]) => [name, mapPanel(label, m.units)])),
        p: mapPanel("p(0…9)", m.classes),
      };
      const sentence = el("p", "explorer-sentence");
      const title = el("div", "explorer-title", `${m.cell.toUpperCase()}-${m.units} (${m.name})`);
      const box = el("figure", "explorer-model", title, el("div", "explorer-maps", ...Object.values(maps)), sentence);
      box.dataset.model = m.name;
      return { clf, maps, sentence, box };
    });

    const controls = el("div", "explorer-controls", padBox, picker);
    const sliderRow = el("label", "explorer-sliderrow", "step ", slider, stepText);
    root.append(controls, sliderRow, el("div", "explorer-models", ...panels.map((p) => p.box)));

    function pixels() {
      const rows = [];
      for (let t = 0; t < T; t++) {
        rows.push(Array.from(levels.subarray(t * first.pixels, (t + 1) * first.pixels), (v) => (v >= first.first_ink_level ? 1 : 0)));
      }
      return rows;
    }

    function drawPad() {
      const ctx = pad.getContext("2d");
      const img = ctx.createImageData(pad.width, pad.height);
      levels.forEach((v, k) => {
        const ink = v >= first.first_ink_level;
        const g = ink ? 255 - v : 255 - Math.round(v / 3);
        img.data.set([g, g, g, 255], k * 4);
      });
      ctx.putImageData(img, 0, 0);
    }

    function update() {
      drawPad();
      state.pixels = pixels();
      panels.forEach((panel) => {
        const steps = panel.clf.run(state.pixels);
        panel.steps = steps;
        paint(panel.maps.x.canvas, state.pixels, { ink: true });
        for (const [name, , signed] of MAPS[panel.clf.model.cell]) {
          const rows = steps.map((s) => s[name]);
          const scale = name === "c" ? Math.max(1, ...rows.flatMap((r) => Array.from(r, Math.abs))) : 1;
          paint(panel.maps[name].canvas, rows, { signed, scale });
        }
        paint(panel.maps.p.canvas, steps.map((s) => s.p));
      });
      show();
    }

    function show() {
      const t = state.t;
      stepText.textContent = `${t} of ${T}`;
      panels.forEach((panel) => {
        Object.values(panel.maps).forEach((m) => m.show(t, T));
        const p = panel.steps[t - 1].p;
        const k = p.indexOf(Math.max(...p));
        panel.sentence.textContent = `after row ${t}: ${k}, p = ${p[k].toFixed(2)}`;
        panel.sentence.dataset.prediction = k;
      });
    }

    function choose(k) {
      digits.rows[k].forEach((row, t) => {
        for (let j = 0; j < row.length; j++) levels[t * first.pixels + j] = row[j] === "1" ? 255 : 0;
      });
      update();
    }

    // pointer events serve mouse, pen and touch alike
    let last = null;
    const cellAt = (event) => {
      const box = pad.getBoundingClientRect();
      return [((event.clientX - box.left) / box.width) * pad.width, ((event.clientY - box.top) / box.height) * pad.height];
    };
    const ink = ([x, y]) => {
      for (let t = Math.floor(y - 2); t <= Math.floor(y + 2); t++) {
        for (let j = Math.floor(x - 2); j <= Math.floor(x + 2); j++) {
          if (t < 0 || t >= pad.height || j < 0 || j >= pad.width) continue;
          const d = Math.hypot(j + 0.5 - x, t + 0.5 - y);
          const v = Math.round(255 * Math.max(0, Math.min(1, 1.5 - d)));
          levels[t * pad.width + j] = Math.max(levels[t * pad.width + j], v);
        }
      }
    };
    const stroke = (to) => {
      const from = last || to;
      const n = Math.max(1, Math.ceil(Math.hypot(to[0] - from[0], to[1] - from[1]) / 0.25));
      for (let s = 1; s <= n; s++) ink([from[0] + ((to[0] - from[0]) * s) / n, from[1] + ((to[1] - from[1]) * s) / n]);
      last = to;
      update();
    };
    pad.addEventListener("pointerdown", (e) => {
      pad.setPointerCapture(e.pointerId);
      last = null;
      stroke(cellAt(e));
    });
    pad.addEventListener("pointermove", (e) => {
      if (last) stroke(cellAt(e));
    });
    const stop = () => {
      last = null;
    };
    pad.addEventListener("pointerup", stop);
    pad.addEventListener("pointercancel", stop);

    choose(0);
    return {
      levels: () => Array.from(levels),
      pixels: () => state.pixels,
      setStep(t) {
        slider.value = t;
        slider.dispatchEvent(new Event("input"));
      },
    };
  }

  // -- the counter widget --------------------------------------------------------------------

  function counterWidget(root, models) {
    const counters = models.map(Counter);
    const first = models[0];
    const box = el("input", "explorer-text");
    Object.assign(box, { type: "text", value: member(first.letters, first.n_train), spellcheck: false });
    box.setAttribute("aria-label", `a string of ${first.letters.split("").join(" and ")}`);
    box.setAttribute("inputmode", "text");
    const n = el("input", "explorer-n");
    Object.assign(n, { type: "number", min: 1, max: 200, value: first.n_train });
    n.setAttribute("aria-label", "n");
    const make = el("button", "explorer-button", `${first.title} with this n`);
    make.type = "button";
    make.addEventListener("click", () => {
      box.value = member(first.letters, Math.max(1, Math.min(200, Number(n.value) || 1)));
      update();
    });
    n.addEventListener("keydown", (e) => {
      if (e.key === "Enter") make.click();
    });
    box.addEventListener("input", update);
    const row = el("div", "explorer-controls", el("label", "", "string ", box), el("label", "", "n = ", n), make);
    const panels = counters.map((counter) => {
      const canvas = el("canvas", "explorer-chart");
      const sentence = el("p", "explorer-sentence");
      const m = counter.model;
      const what = m.cell === "lstm" ? "cell state c_t" : "state h_t";
      const title = el("div", "explorer-title", `${m.cell.toUpperCase()} counter (${m.name}): ${what}, unit ${m.counting_unit} in bold; next-symbol predictions below`);
      const figure = el("figure", "explorer-model", title, canvas, sentence);
      figure.dataset.model = m.name;
      return { counter, canvas, sentence, figure };
    });
    root.append(row, el("div", "explorer-counters", ...panels.map((p) => p.figure)));

    function text() {
      const clean = Array.from(box.value.toLowerCase()).filter((s) => first.letters.includes(s)).join("").slice(0, 400);
      if (clean !== box.value) box.value = clean;
      return clean;
    }

    function draw(panel, txt, steps) {
      const m = panel.counter.model;
      const canvas = panel.canvas;
      const width = Math.max(280, canvas.parentElement.clientWidth - 2);
      const chartH = 150;
      const rowH = 12;
      const height = chartH + rowH * m.outputs.length + 24;
      const dpr = window.devicePixelRatio || 1;
      canvas.width = width * dpr;
      canvas.height = height * dpr;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
      const ctx = canvas.getContext("2d");
      ctx.scale(dpr, dpr);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, width, height);
      const left = 28;
      const T = steps.length;
      const dx = (width - left - 4) / T;
      const key = m.cell === "lstm" ? "c" : "h";
      const values = steps.flatMap((s) => Array.from(s[key]));
      const lo = Math.min(-1, ...values);
      const hi = Math.max(1, ...values);
      const y = (v) => 6 + ((hi - v) / (hi - lo)) * (chartH - 12);
      // the a's shaded, the zero line, then every unit
      ctx.fillStyle = "#eef3fb";
      for (let t = 1; t < T; t++) if (txt[t - 1] === first.letters[0]) ctx.fillRect(left + t * dx, 0, dx, chartH);
      ctx.strokeStyle = "#999";
      ctx.beginPath();
      ctx.moveTo(left, y(0));
      ctx.lineTo(width, y(0));
      ctx.stroke();
      ctx.fillStyle = "#333";
      ctx.font = "10px sans-serif";
      ctx.fillText(hi.toFixed(1), 0, y(hi) + 4);
      ctx.fillText(lo.toFixed(1), 0, y(lo));
      const colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
      for (let u = 0; u < m.units; u++) {
        ctx.strokeStyle = colours[u % colours.length];
        ctx.lineWidth = u === m.counting_unit ? 2.5 : 1;
        ctx.globalAlpha = u === m.counting_unit ? 1 : 0.45;
        ctx.beginPath();
        steps.forEach((s, t) => ctx[t ? "lineTo" : "moveTo"](left + (t + 0.5) * dx, y(s[key][u])));
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      // predictions: one row per output symbol, dark where predicted; a dot where allowed
      m.outputs.forEach((sym, k) => {
        const top = chartH + 4 + k * rowH;
        ctx.fillStyle = "#333";
        ctx.fillText(sym, 8, top + 9);
        steps.forEach((s, t) => {
          const [r, g, b] = colour(s.p[k], false);
          ctx.fillStyle = `rgb(${r},${g},${b})`;
          ctx.fillRect(left + t * dx, top, Math.max(dx - 0.5, 0.5), rowH - 2);
          if (allowedAfter(m, txt.slice(0, t)).includes(sym)) {
            ctx.fillStyle = "#fff";
            ctx.fillRect(left + (t + 0.5) * dx - 1, top + rowH / 2 - 2, 2, 2);
          }
        });
      });
    }

    function describe(m, txt, v) {
      const where = (t) => (t === 0 ? "after ^" : `after symbol ${t} ("${txt.slice(0, t)}")`);
      const name = m.cell.toUpperCase();
      if (v.member) {
        const size = txt.length / m.letters.length;
        return v.recognised
          ? `${m.title} with n = ${size}: the ${name} recognises it (every prediction right).`
          : `${m.title} with n = ${size}: the ${name} does not recognise it; its first wrong prediction is ${where(v.firstWrong)}.`;
      }
      const which = v.rejectedAt < 0 ? "accepts it" : v.rejectedAt === txt.length ? "rejects it: it does not predict the end" : `rejects it at symbol ${v.rejectedAt + 1}, which it did not predict`;
      return `not a string of ${m.title}: the ${name} ${which}.`;
    }

    const state = {};
    function update() {
      const txt = text();
      state.text = txt;
      panels.forEach((panel) => {
        const steps = panel.counter.run(txt);
        const v = verdict(panel.counter.model, txt, steps);
        draw(panel, txt, steps);
        panel.sentence.textContent = describe(panel.counter.model, txt, v);
        panel.sentence.dataset.recognised = v.recognised;
      });
    }
    window.addEventListener("resize", update);
    update();
    return { text: () => state.text };
  }

  // -- start ------------------------------------------------------------------------------------

  const api = { ready: false, widgets: {} };
  window.rnnreportExplorer = api;

  /** For the browser test: a model's per-step records on an input (pixels or a string). */
  api.run = (name, input) => {
    const model = window.RNNREPORT_MODELS[name];
    const steps = (model.kind === "counter" ? Counter(model) : Classifier(model)).run(input);
    return steps.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Array.from(v)])));
  };
  api.verdict = (name, text) => {
    const model = window.RNNREPORT_MODELS[name];
    return verdict(model, text, Counter(model).run(text));
  };

  function start() {
    const all = Object.values(window.RNNREPORT_MODELS || {});
    const of = (kind) => all.filter((m) => m.kind === kind);
    document.querySelectorAll(".rnnreport-explorer").forEach((root) => {
      const kind = root.dataset.explorer;
      root.classList.add("explorer-on");
      if (kind === "step-through") {
        const digits = of("digits")[0];
        api.widgets[kind] = stepThrough(root, of("classifier"), digits);
      } else if (kind === "counter") {
        api.widgets[kind] = counterWidget(root, of("counter"));
      }
    });
    api.ready = true;
    api.readyAt = performance.now();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
