"""How the app says things, one rule a module, for every view: the cards, focus mode, the status bar,
the comparison table, the CLI and every export. Pure functions, no Qt, no heavy imports (the window's
start-up imports them).

- :mod:`.metrics`: tokens/s, durations, token counts and the one metrics line of an answer;
- :mod:`.money`: costs and prices;
- :mod:`.status`: a card's status word and its longer label;
- :mod:`.colours`: one colour per provider;
- :mod:`.text`: short forms of a text (snippets).

URL safety is :mod:`app.urls`.
"""
