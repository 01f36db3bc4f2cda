#!/usr/bin/env bash
# How the shipped styles in models/ are trained and exported (each model's metadata holds the same
# settings). Usage: scripts/train_shipped.sh RUNS_DIR OUT_DIR [STYLE ...]
# Needs ../shared/data (styles and training photos), the training extra and VGG16
# ('stylize weights install vgg16'). A killed run resumes from its last checkpoint when started again.
#
# candy is trained from scratch (700 steps of 4 crops at 256 px, about 2.7 s a step on the project's
# 2-core CPU: ~32 minutes); every other style starts from candy's net (--init-from) and needs 300 steps
# of 4 crops at 192 px (~8 minutes), since the net already paints and only has to change its painting.
set -euo pipefail
runs=${1:?runs folder}; out=${2:?output folder}; shift 2
data=${STYLIZE_DATA:-../shared/data}
stylize=${STYLIZE:-stylize}

# per style: style weight (higher: more painting, less photo), style size (larger: larger strokes)
declare -A WEIGHT=([candy]=2 [mosaic]=2 [udnie]=2 [rain-princess]=2 [starry_night]=2 [the_scream]=2
                   [woman-with-hat-matisse]=2 [shipwreck]=2)
declare -A SIZE=([candy]=512 [mosaic]=512 [udnie]=512 [rain-princess]=640 [starry_night]=640 [the_scream]=640
                 [woman-with-hat-matisse]=512 [shipwreck]=640)
declare -A SHORT=([woman-with-hat-matisse]=woman_with_hat)  # model names; the rest: '-' becomes '_'
COMMON=(--arch fast --backbone vgg16 --batch-size 4 --lr 2e-3 --temporal-weight 0.005 --checkpoint-every 50
        --preview-every 50)
FIRST=(--steps 700 --image-size 256)
WARM=(--steps 300 --image-size 192 --init-from "$runs/candy")

mkdir -p "$runs" "$out"
for style in ${@:-candy starry_night mosaic rain-princess the_scream udnie woman-with-hat-matisse shipwreck}; do
  short=${SHORT[$style]:-${style//-/_}}
  if [[ $style == candy ]]; then steps=(${FIRST[@]}); else steps=("${WARM[@]}"); fi
  resume=(); [[ -f $runs/$short/checkpoint.pt ]] && resume=(--resume)
  "$stylize" train --style "$data/styles/$style.jpg" --data "$data/train" -o "$runs/$short" "${steps[@]}" \
    --style-weight "${WEIGHT[$style]}" --style-size "${SIZE[$style]}" "${COMMON[@]}" "${resume[@]}"
  "$stylize" export "$runs/$short" -o "$out/$short.onnx" --style-name "$short" --overwrite
done
