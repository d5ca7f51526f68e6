from phishtrace.cli import main

main()
