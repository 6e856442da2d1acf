"""Z values, card metrics and timing constants for the canvas, in one place (STYLE.md)."""

from __future__ import annotations

# ---------------------------------------------------------------- Z order (higher is on top)
Z_EDGE = -10.0
Z_CARD = 0.0
Z_CARD_SELECTED = 5.0
Z_CARD_DRAGGED = 10.0

# ---------------------------------------------------------------- card metrics (scene units)
# A card never grows beyond app.layout.height(node) (the row height the layout assumes); beyond it
# the body scrolls inside the card.
CARD_RADIUS = 10.0
CARD_PAD = 14.0
STRIPE_W = 5.0
HEADER_H = 38.0
REASONING_ROW_H = 26.0
REASONING_MAX_H = 180.0
BODY_MIN_H = 24.0
METRICS_H = 24.0
ACTIONS_H = 30.0
BUTTON_H = 22.0
CODE_COPY_W = 46.0
CODE_COPY_H = 18.0
SELECTION_MARGIN = 4.0
FILE_TILE_H = 80.0  # a prompt's file thumbnails and chips (the row is app.layout.FILES_ROW_H)

# Below this level of detail (scene-to-device scale), cards draw an overview: their title and first
# words in fonts sized in device pixels (CardStyle.overview_*), or, narrower than OVERVIEW_MIN_W_PX on
# screen, a title bar and a coloured block.
LOD_TEXT_MIN = 0.42
OVERVIEW_MIN_W_PX = 64.0
OVERVIEW_PAD_PX = 5.0
# New cards are brought into view at this zoom at least, scrolling rather than zooming further out.
READABLE_ZOOM = 0.7

# ---------------------------------------------------------------- timing
FRAME_INTERVAL_MS = 33  # one shared repaint tick: at most ~30 fps per card
HIDDEN_CARD_INTERVAL_S = 0.5  # cards off screen or zoomed out too far re-render this often at most
VIEWPORT_SAVE_DEBOUNCE_MS = 600
MINIMAP_DEBOUNCE_MS = 150  # the minimap redraws its cached picture of the cards at most this often

# ---------------------------------------------------------------- large sessions (scene.populate)
FILL_SLICE_MS = 4.0  # background work per event-loop pass: making cards, building documents ahead
WORK_IDLE_MS = 60  # background work pauses until the view has been still this long
PREFETCH_VIEWS = 0.75  # cards are made, documents built ahead, within this many view sizes around it
PREFETCH_BATCH = 24  # cards made ahead of a pan per event-loop pass
SELECT_MAKES_MAX = 200  # selecting more cards not made yet than this keeps them unmade (select all)
MAX_DETAILED = 240  # beyond this many cards with documents, those far from the view drop theirs
LENS_DEBOUNCE_MS = 300

# ---------------------------------------------------------------- zoom
ZOOM_MIN = 0.08
ZOOM_MAX = 3.0
ZOOM_STEP = 1.15

# ---------------------------------------------------------------- grid
GRID_STEP = 40.0
