from sfng.cli import main

main()
