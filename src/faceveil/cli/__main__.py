from faceveil.cli import main

main()
