"""trackio-tool: inspect, plot and reorganise Trackio projects from the terminal."""

__version__ = "0.1.0"
