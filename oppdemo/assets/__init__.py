"""The asset engine: compare, plan and apply the demo files against their snapshot."""
