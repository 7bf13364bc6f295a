"""Sampling handlers a server can fall back to when its client cannot sample."""
