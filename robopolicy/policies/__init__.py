"""Policy families. Importing this package registers every built-in family with the registry."""

from robopolicy.policies import bc, carp, diffusion, ebt, streaming  # noqa: F401
