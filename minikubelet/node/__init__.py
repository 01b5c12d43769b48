"""The node agent (the kubelet): pod workers, container supervisors and the CI report. It runs
the pods it is given and reports their status; it decides nothing the core can decide."""
