"""static/placement.js ``Priority``: the labels' order kept through one entry in or out (an edit
of one feature on a big map, or a batch of them) is the order sorted again from scratch, at every
zoom, with a selected feature, for thousands of generated changes. Run in Node (a plain ES module)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from support import require

import mapsrv.web

STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"

SCRIPT = """
const { Priority } = await import(%(placement)s);
let seed = %(seed)d;
const random = () => ((seed = (seed * 1103515245 + 12345) %% 2147483648) / 2147483648);
const kinds = ['point', 'line', 'area'];
let seq = 0;
const entry = (id) => ({
  id: String(id), kind: kinds[Math.floor(random() * 3)], seq: (seq += 1),
  size: [4, 9, 16, 1.5][Math.floor(random() * 4)] * (random() < 0.5 ? 1 : random()),
  value: random() < 0.3 ? null : Math.floor(random() * 5),
});
const live = new Map();
for (let i = 0; i < 300; i += 1) live.set(String(i), entry(i));
const kept = new Priority();
const ids = (list) => list.map((e) => e.id + ':' + e.seq).join(',');
let checked = 0;
const mismatches = [];
let zoom = 0;
let selected = null;
for (let step = 0; step < 2000; step += 1) {
  if (random() < 0.2) zoom = Math.floor(random() * 6); // mostly the same view: the order is patched
  if (random() < 0.2) selected = random() < 0.6 ? String(Math.floor(random() * 320)) : null;
  const got = ids(kept.at(live.values(), zoom, selected));
  const want = ids(new Priority().at(live.values(), zoom, selected));
  checked += 1;
  if (got !== want && mismatches.length < 3) mismatches.push({ step, zoom, selected });
  const changes = 1 + Math.floor(random() * (random() < 0.2 ? 60 : 2)); // an edit, or a batch
  for (let c = 0; c < changes; c += 1) {
    const id = String(Math.floor(random() * 320));
    const old = live.get(id);
    if (old && random() < 0.3) { // a feature deleted
      live.delete(id);
      kept.remove(old);
    } else { // drawn: a new one, or an edit (its new entry replaces the old)
      const fresh = entry(id);
      live.set(id, fresh);
      if (old) kept.remove(old);
      kept.add(fresh);
    }
  }
}
process.stdout.write(JSON.stringify({ checked, mismatches, left: live.size }));
"""


def test_the_order_kept_through_edits_is_the_order_sorted_again() -> None:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs)")
    assert node is not None
    for seed in (1, 2, 3):
        script = SCRIPT % {"placement": json.dumps((STATIC / "placement.js").as_uri()), "seed": seed}
        command = [node, "--input-type=module", "-e", script]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["checked"] == 2000 and result["left"] > 100, result
        assert result["mismatches"] == [], result
