"""Grading as a pipeline: steps produce facts, checks only judge them.

    facts       Phase, Need (a fact a check asks for), Unavailable, Facts (what a check reads)
    config      RunConfig: the options of one grading run (tag prefix, no-cache, jobs)
    steps/      one module per step, each defining the needs it provides:
                  parse    the Dockerfile read and parsed once; hadolint's findings
                  build    the build; the built image's facts
                  inspect  the image's layers
                  probe    the cache probe (a throw-away rebuild with one file changed)
                  run      the container on the lab network; commands and HTTP calls to it
    job         ExerciseJob: one exercise's needs fulfilled once, its checks judged in order
"""
