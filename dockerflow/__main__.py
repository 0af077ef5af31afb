from dockerflow.cli.main import main

main()
