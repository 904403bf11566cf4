from mu0.cli import main

raise SystemExit(main())
