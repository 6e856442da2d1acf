"""The infinite canvas: scene, view, card and edge items, minimap."""
