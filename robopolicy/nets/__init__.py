"""Reusable network pieces shared by the policy families."""
