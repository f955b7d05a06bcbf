module dockerlab/greeter

go 1.19
