module dockerlab/image-gallery

go 1.19
