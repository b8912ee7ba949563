from preau.app import main

main()
