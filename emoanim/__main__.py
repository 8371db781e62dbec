from emoanim.cli import main

raise SystemExit(main())
