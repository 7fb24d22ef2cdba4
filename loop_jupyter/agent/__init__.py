"""The Loop agent: models, planner, the tool loop, conversation and events."""
