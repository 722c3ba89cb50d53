"""What mapsrv tells its operators: logs, Prometheus metrics and the statistics behind them.

    logs        the log formats (JSON or text) and the levels of the libraries underneath
    statistics  the registry every component puts its ``statistics()`` in; nothing here imports them
    metrics     ``/metrics``: request counters and durations, and a gauge for each statistic
    collector   the garbage collector's thresholds, what it no longer visits, and its pauses
    stalls      the event loop watched: how often and how long it stood still, and on what

An observer is handed what it observes (``Statistics.register``); it never imports it, so every
layer may use this package and this package uses no layer.
"""

__all__: list[str] = []
