"""A module that cannot be imported, as when a dependency is missing from the package."""

raise ImportError("No module named 'left_out_of_the_zip'")
