from gendisco.cli import main

main()
