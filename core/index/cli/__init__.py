"""`python app.py index ...`: the index tools' command line, one module per sub-command.

    args        what the sub-commands share (declaring one, size flags)
    examples    the examples shown by --help
    output      what they print: reports, hits, lists, manifests, the progress bar
    build       index build: flags to a Source and BuildOptions, progress bar, report
    search      index search: texts, images, negatives, weights, filters
    info        index info [NAME] [--verify]: list, describe, verify
    manage      index delete | push | pull
    main        add_index_commands: the `index` command and its sub-commands

Each module imports only those above it.
"""
