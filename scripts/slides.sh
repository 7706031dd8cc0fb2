#!/usr/bin/env bash
# Turn every notebook into a static reveal.js deck that opens offline: build/slides/NN_name.slides.html.
# reveal.js, require.js and jQuery come from the npm registry (pinned), cached in $LRKIT_HOME/web-assets,
# and are copied next to the decks, so no page needs a CDN.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${LRKIT_HOME:-$HOME/.cache/lrkit}"
venv="$("$root/scripts/env.sh")"
out="${1:-$root/build/slides}"
assets="$home/web-assets"
REVEAL=4.6.0 REQUIREJS=2.3.8 JQUERY=3.8.0   # nbconvert 7's reveal template expects reveal.js 4

if [ ! -f "$assets/.complete-$REVEAL-$REQUIREJS-$JQUERY" ]; then
  command -v npm >/dev/null || { echo "slides: npm is needed once to fetch reveal.js (apt-get install npm)" >&2; exit 1; }
  rm -rf "$assets"; mkdir -p "$assets/tgz"
  (cd "$assets/tgz" && npm pack --silent "reveal.js@$REVEAL" "requirejs@$REQUIREJS" "jquery@$JQUERY" >/dev/null)
  for pkg in reveal.js requirejs jquery; do
    mkdir -p "$assets/$pkg" && tar -xzf "$assets"/tgz/"$pkg"-*.tgz -C "$assets/$pkg" --strip-components=1
  done
  touch "$assets/.complete-$REVEAL-$REQUIREJS-$JQUERY"
fi

mkdir -p "$out/assets"
cp -r "$assets/reveal.js/dist" "$assets/reveal.js/plugin" "$out/assets/"
cp "$assets/requirejs/require.js" "$assets/jquery/dist/jquery.min.js" "$out/assets/"
# one nbconvert for all the notebooks: a process per notebook spent most of its time starting up.
# A cell tagged hide-input shows its output only (the code is collapsed in JupyterLab and RISE too);
# notes cells become reveal.js speaker notes (press S in a deck).
PYTHONPATH="$root" "$venv/bin/jupyter" nbconvert --to slides --log-level=WARN "$root"/notebooks/[0-9]*.ipynb \
  --output-dir "$out" \
  --SlidesExporter.reveal_url_prefix=assets \
  --SlidesExporter.require_js_url=assets/require.js \
  --SlidesExporter.jquery_url=assets/jquery.min.js \
  --TagRemovePreprocessor.enabled=True \
  --TagRemovePreprocessor.remove_input_tags=hide-input
echo "slides: $(ls "$out"/*.slides.html | wc -l) decks in $out (open one in a browser; arrow keys move)"
