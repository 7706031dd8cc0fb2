from .finder_bench import main

main()
