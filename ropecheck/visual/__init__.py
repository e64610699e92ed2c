"""``ropecheck report``: a self-contained HTML page (and a markdown twin) with figures.

- ``data``: the numbers (results/ tables read with pandas, the live precision sweep and
  its horizon, the decay bound, the attention example); no matplotlib.
- ``figures``: one matplotlib function per figure, each returning the saved PNG path.
- ``page``: the page model and its HTML / markdown rendering.
- ``build``: assembles the report into a temporary folder and moves it into place.

Importing ``ropecheck`` (or this package) never imports matplotlib.
"""
