from d2l_lab import main

main()
